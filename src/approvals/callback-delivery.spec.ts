import fc from 'fast-check';
import { jobAttempt } from '../common/queues/job-attempt';
import { afterAttempt, CallbackAnswer, isTransient, judgeAttempt } from './callback-delivery';

const answered = (status: number): CallbackAnswer => ({ status, error: null });
const noAnswer = (error: string): CallbackAnswer => ({ status: null, error });

describe('the callback to the gateway', () => {
  describe('one attempt', () => {
    it('is delivered on any 2xx, at once and for good', () => {
      for (const status of [200, 202, 204, 299]) {
        expect(judgeAttempt(answered(status), false)).toEqual({ outcome: 'delivered', statusCode: status, error: null, verdict: 'done' });
      }
    });

    it('is retried on a server error, a timeout, a rate limit or no answer while attempts are left', () => {
      expect(judgeAttempt(answered(503), false)).toEqual({ outcome: 'retrying', statusCode: 503, error: 'HTTP 503', verdict: 'retry' });
      expect(judgeAttempt(answered(408), false)).toMatchObject({ outcome: 'retrying', error: 'HTTP 408', verdict: 'retry' });
      expect(judgeAttempt(answered(429), false)).toMatchObject({ outcome: 'retrying', error: 'HTTP 429', verdict: 'retry' });
      expect(judgeAttempt(noAnswer('network error: ECONNREFUSED'), false)).toEqual({
        outcome: 'retrying',
        statusCode: null,
        error: 'network error: ECONNREFUSED',
        verdict: 'retry',
      });
    });

    it('fails for good on a transient failure in the last attempt', () => {
      expect(judgeAttempt(answered(500), true)).toEqual({ outcome: 'failed', statusCode: 500, error: 'HTTP 500', verdict: 'done' });
      expect(judgeAttempt(noAnswer('timed out after 5000 ms'), true)).toEqual({
        outcome: 'failed',
        statusCode: null,
        error: 'timed out after 5000 ms',
        verdict: 'done',
      });
    });

    it('fails at once on a redirect, which is never followed', () => {
      expect(judgeAttempt(answered(302), false)).toEqual({ outcome: 'failed', statusCode: 302, error: 'redirect (302) not followed', verdict: 'done' });
      expect(judgeAttempt(answered(307), false).error).toBe('redirect (307) not followed');
    });

    it('fails at once when the gateway rejects the notification token', () => {
      expect(judgeAttempt(answered(401), false)).toEqual({
        outcome: 'failed',
        statusCode: 401,
        error: 'rejected the notification token (401)',
        verdict: 'done',
      });
      expect(judgeAttempt(answered(403), false).error).toBe('rejected the notification token (403)');
    });

    it('fails at once on any other client error', () => {
      for (const status of [400, 404, 410, 422]) {
        expect(judgeAttempt(answered(status), false)).toEqual({ outcome: 'failed', statusCode: status, error: `HTTP ${status}`, verdict: 'done' });
      }
    });

    it('is refused, and never retried, when the endpoint policy refuses the address', () => {
      expect(judgeAttempt({ refusal: 'private address 10.0.0.1' }, false)).toEqual({
        outcome: 'refused',
        statusCode: null,
        error: 'endpoint refused: private address 10.0.0.1',
        verdict: 'done',
      });
    });

    it('retries exactly the transient failures that have attempts left (any status)', () => {
      fc.assert(
        fc.property(fc.option(fc.integer({ min: 100, max: 599 }), { nil: null }), fc.boolean(), (status, last) => {
          const judged = judgeAttempt(status === null ? noAnswer('network error') : answered(status), last);
          const ok = status !== null && status >= 200 && status < 300;
          const transient = status === null || status >= 500 || status === 408 || status === 429;
          expect(judged.verdict === 'retry').toBe(!ok && !last && transient);
          expect(isTransient(status)).toBe(transient);
          expect(judged.outcome).toBe(ok ? 'delivered' : judged.verdict === 'retry' ? 'retrying' : 'failed');
          expect(judged.statusCode).toBe(status);
        }),
      );
    });
  });

  describe('the schedule of attempts', () => {
    it('numbers runs from one and makes the run that reaches the limit the last', () => {
      expect(jobAttempt(0, 3)).toEqual({ attempt: 1, lastAttempt: false });
      expect(jobAttempt(1, 3)).toEqual({ attempt: 2, lastAttempt: false });
      expect(jobAttempt(2, 3)).toEqual({ attempt: 3, lastAttempt: true });
    });

    it('treats a job with no attempts configured as a single run', () => {
      expect(jobAttempt(0, undefined)).toEqual({ attempt: 1, lastAttempt: true });
    });

    it('retries a gateway that keeps failing until the attempts run out, then fails for good', () => {
      const maxAttempts = 4;
      const outcomes = [];
      for (let made = 0; made < maxAttempts; made++) {
        const { lastAttempt } = jobAttempt(made, maxAttempts);
        const judged = judgeAttempt(answered(502), lastAttempt);
        outcomes.push(judged.outcome);
        if (judged.verdict === 'done') break;
      }
      expect(outcomes).toEqual(['retrying', 'retrying', 'retrying', 'failed']);
    });

    it('stops at the first delivery', () => {
      const answers = [noAnswer('network error: ETIMEDOUT'), answered(503), answered(200), answered(503)];
      const outcomes = [];
      for (const [made, answer] of answers.entries()) {
        const judged = judgeAttempt(answer, jobAttempt(made, 10).lastAttempt);
        outcomes.push(judged.outcome);
        if (judged.verdict === 'done') break;
      }
      expect(outcomes).toEqual(['retrying', 'retrying', 'delivered']);
    });
  });

  describe('what an attempt leaves on the request', () => {
    const push = { deliveryMode: 'push' as const, status: 'approved' as const };
    const ping = { deliveryMode: 'ping' as const, status: 'approved' as const };

    it('marks the callback delivered, and a pushed approval redeemed', () => {
      expect(afterAttempt(push, 'delivered')).toEqual({ callbackState: 'delivered', redeemed: true, auditType: 'approval.callback_delivered' });
    });

    it('redeems nothing when a ping, or a pushed denial, is delivered', () => {
      expect(afterAttempt(ping, 'delivered')).toMatchObject({ callbackState: 'delivered', redeemed: false });
      expect(afterAttempt({ deliveryMode: 'push', status: 'denied' }, 'delivered')).toMatchObject({ callbackState: 'delivered', redeemed: false });
    });

    it('marks the callback failed when the attempt failed or was refused', () => {
      expect(afterAttempt(push, 'failed')).toEqual({ callbackState: 'failed', redeemed: false, auditType: 'approval.callback_attempt' });
      expect(afterAttempt(push, 'refused')).toEqual({ callbackState: 'failed', redeemed: false, auditType: 'approval.callback_attempt' });
    });

    it('leaves the callback pending while it is retried', () => {
      expect(afterAttempt(push, 'retrying')).toEqual({ callbackState: undefined, redeemed: false, auditType: 'approval.callback_attempt' });
    });
  });
});
