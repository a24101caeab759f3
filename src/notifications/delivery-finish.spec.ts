import fc from 'fast-check';
import { jobAttempt } from '../common/queues/job-attempt';
import { DeliveryFacts, deliveryResult, finishDelivery, reasonToSkip, reasonToSkipReview, Tried } from './delivery-finish';
import type { SendOutcome } from './push/push.channel';

const tried = (target: string, outcome: SendOutcome['outcome'], error?: string): Tried => ({ target, outcome: error ? { outcome, error } : { outcome } });

describe('a notification delivery', () => {
  describe('whether it is sent at all', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const pending = { status: 'pending' as const, expiresAt: new Date(now + 60_000) };
    const facts = (more: Partial<DeliveryFacts> = {}): DeliveryFacts => ({
      channel: 'email',
      display_name: 'Bob',
      email: 'bob@example.test',
      approver_status: 'active',
      voted: false,
      ...more,
    });

    it('is sent to an approver in the directory who has not voted on a pending request', () => {
      expect(reasonToSkip(pending, facts(), now)).toBeUndefined();
      expect(reasonToSkip(pending, facts({ channel: 'push', email: null }), now)).toBeUndefined();
    });

    it('is skipped when the request is gone or decided', () => {
      expect(reasonToSkip(null, facts(), now)).toBe('the request no longer exists');
      expect(reasonToSkip({ ...pending, status: 'approved' }, facts(), now)).toBe('the request is approved');
      expect(reasonToSkip({ ...pending, status: 'cancelled' }, facts(), now)).toBe('the request is cancelled');
    });

    it('is skipped from the expiry instant on, before the expiry job has run', () => {
      expect(reasonToSkip(pending, facts(), now + 59_999)).toBeUndefined();
      expect(reasonToSkip(pending, facts(), now + 60_000)).toBe('the request is expired');
    });

    it('is skipped for an approver who left the directory, has voted, or has no email address for an email', () => {
      expect(reasonToSkip(pending, facts({ display_name: null }), now)).toBe('the approver is no longer in the directory');
      expect(reasonToSkip(pending, facts({ voted: true }), now)).toBe('the approver has voted');
      expect(reasonToSkip(pending, facts({ email: null }), now)).toBe('the approver has no email address');
    });
  });

  describe("whether a sampled review's notification is sent at all", () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const open = { status: 'pending', expiresAt: new Date(now + 60_000) };
    const facts = (more: Partial<DeliveryFacts> = {}): DeliveryFacts => ({
      channel: 'email',
      display_name: 'Rita',
      email: 'rita@example.test',
      approver_status: 'active',
      voted: false,
      ...more,
    });

    it('is sent to a reviewer in the directory while the review is open', () => {
      expect(reasonToSkipReview(open, facts(), now)).toBeUndefined();
    });

    it('is skipped once the review is gone, answered, or at its expiry instant', () => {
      expect(reasonToSkipReview(null, facts(), now)).toBe('the review no longer exists');
      expect(reasonToSkipReview({ ...open, status: 'flagged' }, facts(), now)).toBe('the review has been answered');
      expect(reasonToSkipReview(open, facts(), now + 59_999)).toBeUndefined();
      expect(reasonToSkipReview(open, facts(), now + 60_000)).toBe('the review has expired');
    });

    it('is skipped for a reviewer who left the directory, is disabled, or has no email address for an email', () => {
      expect(reasonToSkipReview(open, facts({ display_name: null }), now)).toBe('the reviewer is no longer in the directory');
      expect(reasonToSkipReview(open, facts({ approver_status: 'disabled' }), now)).toBe('the reviewer is disabled in the directory');
      expect(reasonToSkipReview(open, facts({ email: null }), now)).toBe('the reviewer has no email address');
      expect(reasonToSkipReview(open, facts({ channel: 'push', email: null }), now)).toBeUndefined();
    });
  });

  describe('how it ends after an attempt', () => {
    it('is sent when any target took it, even if others failed or are gone', () => {
      expect(deliveryResult([tried('s1', 'retry', 'HTTP 503'), tried('s2', 'sent'), tried('s3', 'gone', 'HTTP 410')], false)).toBe('sent');
      expect(deliveryResult([tried('bob@example.test', 'sent')], true)).toBe('sent');
    });

    it('is retried when a target failed transiently and the queue will run it again', () => {
      expect(deliveryResult([tried('s1', 'retry', 'timeout'), tried('s2', 'failed', 'HTTP 400')], false)).toBe('retry');
    });

    it('fails for good when the transient failure was the last attempt', () => {
      expect(deliveryResult([tried('s1', 'retry', 'timeout')], true)).toBe('failed');
    });

    it('fails at once on a permanent failure', () => {
      expect(deliveryResult([tried('bob@example.test', 'failed', '550 no such user')], false)).toBe('failed');
      expect(deliveryResult([tried('s1', 'failed', 'endpoint refused'), tried('s2', 'gone', 'HTTP 410')], false)).toBe('failed');
    });

    it('is skipped when nothing could be tried: every target skipped or gone', () => {
      expect(deliveryResult([tried('bob', 'skipped', 'the approver has voted')], false)).toBe('skipped');
      expect(deliveryResult([tried('s1', 'gone', 'HTTP 404'), tried('s2', 'gone', 'HTTP 410')], false)).toBe('skipped');
    });

    it('retries a transiently failing channel until the attempts run out, then fails', () => {
      const results = [];
      for (let made = 0; made < 3; made++) {
        const result = deliveryResult([tried('s1', 'retry', 'HTTP 503')], jobAttempt(made, 3).lastAttempt);
        results.push(result);
        if (result !== 'retry') break;
      }
      expect(results).toEqual(['retry', 'retry', 'failed']);
    });

    it('is sent exactly when a target took it, and retried only with attempts left', () => {
      const outcome = fc.constantFrom<SendOutcome['outcome']>('sent', 'retry', 'failed', 'gone', 'skipped');
      fc.assert(
        fc.property(fc.array(outcome, { minLength: 1, maxLength: 5 }), fc.boolean(), (outcomes, last) => {
          const result = deliveryResult(
            outcomes.map((o, i) => tried(`t${i}`, o)),
            last,
          );
          expect(result === 'sent').toBe(outcomes.includes('sent'));
          if (last) expect(result).not.toBe('retry');
          if (result === 'retry') expect(outcomes).toContain('retry');
          if (result === 'skipped') expect(outcomes.every((o) => o === 'skipped' || o === 'gone')).toBe(true);
        }),
      );
    });
  });

  describe('what the finish records', () => {
    it('records a sent push: one attempt per subscription, the ones that took it stamped, the gone ones dropped, audited as sent', () => {
      const finish = finishDelivery('push', [tried('s1', 'sent'), tried('s2', 'gone', 'HTTP 410'), tried('s3', 'retry', 'HTTP 503')], false);
      expect(finish).toEqual({
        result: 'sent',
        status: 'sent',
        lastError: 'HTTP 410; HTTP 503',
        errors: ['HTTP 410', 'HTTP 503'],
        attempts: [
          { target: 's1', status: 'sent', error: null },
          { target: 's2', status: 'gone', error: 'HTTP 410' },
          { target: 's3', status: 'failed', error: 'HTTP 503' },
        ],
        took: ['s1'],
        gone: ['s2'],
        audited: 'sent',
      });
    });

    it('keeps a retried delivery queued, records the transient failure as failed, and audits nothing', () => {
      const finish = finishDelivery('email', [tried('bob@example.test', 'retry', 'connection reset')], false);
      expect(finish).toMatchObject({ result: 'retry', status: 'queued', lastError: 'connection reset', took: [], gone: [] });
      expect(finish.attempts).toEqual([{ target: 'bob@example.test', status: 'failed', error: 'connection reset' }]);
      expect(finish.audited).toBeUndefined();
    });

    it('is audited as failed when it fails for good', () => {
      expect(finishDelivery('email', [tried('bob@example.test', 'retry', 'timeout')], true)).toMatchObject({
        result: 'failed',
        status: 'failed',
        audited: 'failed',
      });
    });

    it('audits nothing for a skipped delivery', () => {
      const finish = finishDelivery('email', [tried('bob', 'skipped', 'the approver has voted')], true);
      expect(finish).toMatchObject({ result: 'skipped', status: 'skipped', lastError: 'the approver has voted' });
      expect(finish.audited).toBeUndefined();
    });

    it('stamps and drops no subscriptions for an email', () => {
      const finish = finishDelivery('email', [tried('bob@example.test', 'sent')], false);
      expect(finish).toMatchObject({ took: [], gone: [], lastError: null, errors: [] });
    });

    it('keeps the joined errors to 1,000 characters', () => {
      const long = 'x'.repeat(600);
      const finish = finishDelivery('push', [tried('s1', 'failed', long), tried('s2', 'failed', long)], true);
      expect(finish.lastError).toHaveLength(1000);
      expect(finish.errors).toEqual([long, long]);
    });
  });
});
