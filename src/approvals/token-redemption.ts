/**
 * The rules of the CIBA poll (RedeemApprovalToken applies them to an unlocked look at the request, then with its row locked):
 * what a redeem answers for each state of the request, and the polling bookkeeping that turns a
 * too-eager poller's `authorization_pending` into `slow_down` with a longer interval (CIBA Core
 * §11). Plain TypeScript over plain data, so the rules can be tested without a database; the
 * polling state is written through a narrow port (PollingStates).
 */
import { AccessDenied, AuthorizationPending, ExpiredToken, InvalidGrant, ProtocolError, SlowDown } from '../common/errors/protocol-errors';
import type { ApprovalRequest } from './approval-request.entity';
import type { Transaction } from './approval-requests.repository';

/** How much a too-eager poller's interval grows (CIBA Core §11). */
export const SLOW_DOWN_STEP_SECONDS = 5;

/** The request as a redeem reads it. */
export type RedeemState = Pick<ApprovalRequest, 'status' | 'deliveryMode' | 'expiresAt' | 'tokenRedeemedAt'>;

/** A request's time is up at its expiry instant exactly, not a millisecond later. */
export const isDue = (expiresAt: Date, now: number): boolean => expiresAt.getTime() <= now;

/** Whether an approval token may still be issued for the request, once the call is judged again. */
export const awaitsToken = (request: RedeemState, now: number): boolean =>
  request.status === 'approved' && !request.tokenRedeemedAt && !isDue(request.expiresAt, now);

/** What a redeem does next. `answer` ends it with that error; the others need the store, and carry the request. */
export type RedeemStep<R extends RedeemState, V extends { verdict: 'allow' | 'deny' }> =
  | { kind: 'answer'; error: ProtocolError }
  /** Pending and its time is up: settle it as expired, then answer with `error`. */
  | { kind: 'expire'; request: R; error: ExpiredToken }
  /** Pending: record the poll and answer authorization_pending or slow_down (recordPoll). */
  | { kind: 'poll'; request: R }
  /** Denied: access_denied, with the denial's reasons (which need the votes). */
  | { kind: 'explain_denial'; request: R }
  /** Approved, but the call was not judged again before the row was locked: judge it, then come back. */
  | { kind: 'reevaluate'; request: R }
  /** Approved, and judged again just now as no longer allowed: deny it for good. */
  | { kind: 'deny'; request: R; reevaluation: V }
  /** Approved and still allowed: issue the token, once. */
  | { kind: 'issue'; request: R; reevaluation: V };

/**
 * The redeem's next step. `request` is null when the tenant has no such request or it belongs to
 * another client (both read as unknown); `reevaluation` is the call judged again before the row
 * was locked, if it was.
 */
export function redeemStep<R extends RedeemState, V extends { verdict: 'allow' | 'deny' }>(request: R | null, now: number, reevaluation?: V): RedeemStep<R, V> {
  if (!request) return { kind: 'answer', error: new InvalidGrant('unknown auth_req_id') };
  if (request.deliveryMode === 'push')
    return { kind: 'answer', error: new InvalidGrant('this request delivers its result by push, not at the token endpoint') };
  switch (request.status) {
    case 'pending':
      return isDue(request.expiresAt, now)
        ? { kind: 'expire', request, error: new ExpiredToken('the approval request has expired') }
        : { kind: 'poll', request };
    case 'expired':
      return { kind: 'answer', error: new ExpiredToken('the approval request has expired') };
    case 'cancelled':
      return { kind: 'answer', error: new AccessDenied('the approval request was cancelled') };
    case 'denied':
      return { kind: 'explain_denial', request };
    case 'approved':
      if (request.tokenRedeemedAt) return { kind: 'answer', error: new InvalidGrant('the approval token was already issued for this auth_req_id') };
      // An auth_req_id is good until expires_in, approved or not; a late poller gets expired_token.
      if (isDue(request.expiresAt, now)) return { kind: 'answer', error: new ExpiredToken('the approval request expired before its token was redeemed') };
      // The approval is not a blank cheque: the call is judged again, just now, before any token exists.
      if (!reevaluation) return { kind: 'reevaluate', request };
      return { kind: reevaluation.verdict === 'deny' ? 'deny' : 'issue', request, reevaluation };
  }
}

/** When a pending request was last polled, and how long a poller must wait between polls (seconds). */
export interface PollingState {
  lastPolledAt: Date | null;
  pollInterval: number;
}

/** A poll sooner than `interval` after the last one is slow_down, and the interval grows; otherwise authorization_pending. */
export function answerPoll(state: PollingState, now: Date): { next: PollingState; error: SlowDown | AuthorizationPending } {
  const tooSoon = state.lastPolledAt !== null && now.getTime() - state.lastPolledAt.getTime() < state.pollInterval * 1000;
  const pollInterval = tooSoon ? state.pollInterval + SLOW_DOWN_STEP_SECONDS : state.pollInterval;
  return {
    next: { lastPolledAt: now, pollInterval },
    error: tooSoon
      ? new SlowDown(`polled sooner than the interval; wait at least ${pollInterval} seconds between polls`, { interval: pollInterval })
      : new AuthorizationPending('the approvers have not decided yet', { interval: pollInterval }),
  };
}

/** Where a pending request's polling state is written; the caller holds the request's row locked in `tx`. */
export abstract class PollingStates {
  abstract savePolling(tx: Transaction, request: Pick<ApprovalRequest, 'id' | 'tenantId'>, state: PollingState): Promise<void>;
}

/** One poll of a pending request: answered by its polling state, which is then saved with this poll's time (and any longer interval). */
export async function recordPoll(
  states: PollingStates,
  tx: Transaction,
  request: Pick<ApprovalRequest, 'id' | 'tenantId'> & PollingState,
  now: Date,
): Promise<SlowDown | AuthorizationPending> {
  const { next, error } = answerPoll(request, now);
  await states.savePolling(tx, request, next);
  Object.assign(request, next);
  return error;
}
