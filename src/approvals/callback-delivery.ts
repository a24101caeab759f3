/**
 * The rules of a settled request's callback (DeliverCallback sends it; the queue retries it with
 * backoff): what one attempt's answer means, whether it is tried again, and what it leaves on the
 * request. 2xx delivers; 5xx, 408, 429 and network errors are transient and retried while the
 * job has attempts left; 3xx (redirects are never followed), 401, 403 and other 4xx fail at
 * once; an endpoint the policy refuses is never sent to. Plain TypeScript over plain data, so the
 * rules can be tested without a database or a network.
 */
import type { ApprovalRequest, CallbackState } from './approval-request.entity';
import type { CallbackOutcome } from './callback-attempt.entity';

/** What the processor should do after an attempt: nothing more, or try again later. */
export type DeliveryVerdict = 'done' | 'retry';

/** What one attempt came to: the endpoint was refused before sending, or an HTTP status (null: no answer, with the error). */
export type CallbackAnswer = { refusal: string } | { status: number | null; error: string | null };

/** What an attempt is recorded as, and what the processor does next. */
export interface JudgedAttempt {
  outcome: CallbackOutcome;
  statusCode: number | null;
  error: string | null;
  verdict: DeliveryVerdict;
}

/** A failure another attempt may cure: no answer at all (network error, timeout), a server error, a timeout or a rate limit. */
export const isTransient = (status: number | null): boolean => status === null || status >= 500 || status === 429 || status === 408;

/** The attempt's record and verdict; `lastAttempt` says the queue will not run the job again. */
export function judgeAttempt(answer: CallbackAnswer, lastAttempt: boolean): JudgedAttempt {
  if ('refusal' in answer) return { outcome: 'refused', statusCode: null, error: `endpoint refused: ${answer.refusal}`, verdict: 'done' };
  const { status } = answer;
  if (status !== null && status >= 200 && status < 300) return { outcome: 'delivered', statusCode: status, error: null, verdict: 'done' };
  const error =
    status === null
      ? answer.error
      : status >= 300 && status < 400
        ? `redirect (${status}) not followed`
        : status === 401 || status === 403
          ? `rejected the notification token (${status})`
          : `HTTP ${status}`;
  if (isTransient(status) && !lastAttempt) return { outcome: 'retrying', statusCode: status, error, verdict: 'retry' };
  return { outcome: 'failed', statusCode: status, error, verdict: 'done' };
}

/**
 * What a recorded attempt leaves on the request: a final outcome settles its callback state
 * (undefined: unchanged while retrying), and a delivered push of an approval hands the token over,
 * so the request counts as redeemed.
 */
export function afterAttempt(
  request: Pick<ApprovalRequest, 'deliveryMode' | 'status'>,
  outcome: CallbackOutcome,
): { callbackState?: Extract<CallbackState, 'delivered' | 'failed'>; redeemed: boolean; auditType: string } {
  const callbackState = outcome === 'delivered' ? 'delivered' : outcome === 'failed' || outcome === 'refused' ? 'failed' : undefined;
  return {
    callbackState,
    redeemed: outcome === 'delivered' && request.deliveryMode === 'push' && request.status === 'approved',
    auditType: outcome === 'delivered' ? 'approval.callback_delivered' : 'approval.callback_attempt',
  };
}
