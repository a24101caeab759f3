import fc from 'fast-check';
import type { Transaction } from './approval-requests.repository';
import { answerPoll, awaitsToken, isDue, PollingState, PollingStates, recordPoll, RedeemState, redeemStep, SLOW_DOWN_STEP_SECONDS } from './token-redemption';

/** The polling state kept in a map, as the row keeps it (what the unit tests store and read back). */
class InMemoryPollingStates extends PollingStates {
  readonly rows = new Map<string, PollingState>();
  savePolling(_tx: Transaction, request: { id: string; tenantId: string }, state: PollingState): Promise<void> {
    this.rows.set(`${request.tenantId}/${request.id}`, { ...state });
    return Promise.resolve();
  }
}

const T0 = Date.parse('2026-12-05T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const state = (more: Partial<RedeemState> = {}): RedeemState => ({
  status: 'pending',
  deliveryMode: 'poll',
  expiresAt: at(300),
  tokenRedeemedAt: null,
  ...more,
});
const allow = { verdict: 'allow' as const };
const refuse = { verdict: 'deny' as const };
/** The step's kind, and the error's code and description when it answers at once. */
const outcome = (request: RedeemState | null, now: number, reevaluation?: { verdict: 'allow' | 'deny' }) => {
  const step = redeemStep(request, now, reevaluation);
  return step.kind === 'answer' || step.kind === 'expire'
    ? { kind: step.kind, code: step.error.code, description: step.error.description }
    : { kind: step.kind };
};

describe('the CIBA redeem', () => {
  describe('the next step for each state of the request', () => {
    it("answers invalid_grant for an unknown request (or another tenant's or client's)", () => {
      expect(outcome(null, T0)).toEqual({ kind: 'answer', code: 'invalid_grant', description: 'unknown auth_req_id' });
    });

    it('answers invalid_grant for a push request, whatever its state', () => {
      for (const status of ['pending', 'approved', 'denied'] as const) {
        expect(outcome(state({ status, deliveryMode: 'push' }), T0)).toMatchObject({ kind: 'answer', code: 'invalid_grant' });
      }
      expect(outcome(state({ deliveryMode: 'ping' }), T0).kind).toBe('poll');
    });

    it('records a poll of a pending request that has time left', () => {
      expect(outcome(state(), at(299).getTime())).toEqual({ kind: 'poll' });
    });

    it('expires a pending request exactly at its expiry instant, and answers expired_token', () => {
      expect(outcome(state(), at(300).getTime() - 1)).toEqual({ kind: 'poll' });
      expect(outcome(state(), at(300).getTime())).toEqual({ kind: 'expire', code: 'expired_token', description: 'the approval request has expired' });
      expect(outcome(state(), at(301).getTime()).kind).toBe('expire');
    });

    it('answers expired_token for an expired request and access_denied for a cancelled one', () => {
      expect(outcome(state({ status: 'expired' }), T0)).toMatchObject({ kind: 'answer', code: 'expired_token' });
      expect(outcome(state({ status: 'cancelled' }), T0)).toEqual({ kind: 'answer', code: 'access_denied', description: 'the approval request was cancelled' });
    });

    it('explains a denial with its votes', () => {
      expect(outcome(state({ status: 'denied' }), T0)).toEqual({ kind: 'explain_denial' });
    });

    it('judges an approved call again before any token is issued', () => {
      expect(outcome(state({ status: 'approved' }), T0)).toEqual({ kind: 'reevaluate' });
      expect(outcome(state({ status: 'approved' }), T0, allow)).toEqual({ kind: 'issue' });
      expect(outcome(state({ status: 'approved' }), T0, refuse)).toEqual({ kind: 'deny' });
    });

    it('carries the request and the re-evaluation on to the steps that need them', () => {
      const request = state({ status: 'approved' });
      expect(redeemStep(request, T0, allow)).toEqual({ kind: 'issue', request, reevaluation: allow });
    });

    it('issues the token once: a second redeem is invalid_grant', () => {
      expect(outcome(state({ status: 'approved', tokenRedeemedAt: at(10) }), at(20).getTime(), allow)).toEqual({
        kind: 'answer',
        code: 'invalid_grant',
        description: 'the approval token was already issued for this auth_req_id',
      });
    });

    it('answers expired_token for an approved request redeemed at or after its expiry instant', () => {
      const approved = state({ status: 'approved' });
      expect(outcome(approved, at(300).getTime() - 1, allow).kind).toBe('issue');
      expect(outcome(approved, at(300).getTime(), allow)).toEqual({
        kind: 'answer',
        code: 'expired_token',
        description: 'the approval request expired before its token was redeemed',
      });
    });

    it('asks for a re-evaluation exactly when a token could still be issued', () => {
      expect(awaitsToken(state({ status: 'approved' }), at(299).getTime())).toBe(true);
      expect(awaitsToken(state({ status: 'approved' }), at(300).getTime())).toBe(false);
      expect(awaitsToken(state({ status: 'approved', tokenRedeemedAt: at(1) }), T0)).toBe(false);
      expect(awaitsToken(state({ status: 'pending' }), T0)).toBe(false);
      expect(awaitsToken(state({ status: 'denied' }), T0)).toBe(false);
    });

    it('is due at the expiry instant, not before', () => {
      expect(isDue(at(300), at(300).getTime() - 1)).toBe(false);
      expect(isDue(at(300), at(300).getTime())).toBe(true);
    });
  });

  describe('polling', () => {
    const request = (pollInterval = 5) => ({ id: 'req-1', tenantId: 'acme', lastPolledAt: null as Date | null, pollInterval });

    it('answers authorization_pending to a first poll and keeps the interval', async () => {
      const states = new InMemoryPollingStates();
      const error = await recordPoll(states, {} as Transaction, request(), at(0));
      expect(error.code).toBe('authorization_pending');
      expect(error.extra).toEqual({ interval: 5 });
      expect(states.rows.get('acme/req-1')).toEqual({ lastPolledAt: at(0), pollInterval: 5 });
    });

    it('answers slow_down to a poll sooner than the interval, and raises the interval', async () => {
      const states = new InMemoryPollingStates();
      const r = request();
      await recordPoll(states, {} as Transaction, r, at(0));
      const error = await recordPoll(states, {} as Transaction, r, at(4.999));
      expect(error.code).toBe('slow_down');
      expect(error.extra).toEqual({ interval: 5 + SLOW_DOWN_STEP_SECONDS });
      expect(error.description).toBe('polled sooner than the interval; wait at least 10 seconds between polls');
      expect(states.rows.get('acme/req-1')).toEqual({ lastPolledAt: at(4.999), pollInterval: 10 });
    });

    it('measures the next poll against the raised interval, from the last poll', async () => {
      const states = new InMemoryPollingStates();
      const r = request();
      const codes = [];
      // 0: first; 3: too soon (→10); 12: 9 s after 3, too soon for 10 (→15); 27: exactly 15 s later, in time.
      for (const t of [0, 3, 12, 27]) codes.push((await recordPoll(states, {} as Transaction, r, at(t))).code);
      expect(codes).toEqual(['authorization_pending', 'slow_down', 'slow_down', 'authorization_pending']);
      expect(states.rows.get('acme/req-1')).toEqual({ lastPolledAt: at(27), pollInterval: 15 });
    });

    it('accepts a poll exactly one interval after the last', () => {
      expect(answerPoll({ lastPolledAt: at(0), pollInterval: 5 }, at(5)).error.code).toBe('authorization_pending');
      expect(answerPoll({ lastPolledAt: at(0), pollInterval: 5 }, new Date(at(5).getTime() - 1)).error.code).toBe('slow_down');
    });

    it('keeps each request’s polling state apart', async () => {
      const states = new InMemoryPollingStates();
      const a = request();
      const b = { ...request(), id: 'req-2' };
      await recordPoll(states, {} as Transaction, a, at(0));
      expect((await recordPoll(states, {} as Transaction, b, at(1))).code).toBe('authorization_pending');
      expect((await recordPoll(states, {} as Transaction, a, at(1))).code).toBe('slow_down');
      expect(states.rows.get('acme/req-2')?.pollInterval).toBe(5);
    });

    it('grows the interval by one step per slow_down and never otherwise', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.integer({ min: 0, max: 120_000 }), { maxLength: 12 }), (interval, gapsMs) => {
          let s: PollingState = { lastPolledAt: null, pollInterval: interval };
          let t = T0;
          let slowDowns = 0;
          for (const gap of gapsMs) {
            t += gap;
            const { next, error } = answerPoll(s, new Date(t));
            if (error.code === 'slow_down') slowDowns++;
            expect(error.extra).toEqual({ interval: next.pollInterval });
            s = next;
          }
          expect(s.pollInterval).toBe(interval + slowDowns * SLOW_DOWN_STEP_SECONDS);
        }),
      );
    });

    it('never slows down a poller that waits the interval it was last told', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 12 }), (interval, extraMs) => {
          let s: PollingState = { lastPolledAt: null, pollInterval: interval };
          let t = T0;
          for (const extra of extraMs) {
            const { next, error } = answerPoll(s, new Date(t));
            expect(error.code).toBe('authorization_pending');
            s = next;
            t += (error.extra.interval as number) * 1000 + extra;
          }
        }),
      );
    });
  });
});
