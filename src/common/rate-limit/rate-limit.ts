/**
 * Rate limits as plain values: the fixed window a request falls in (config/rate-limit-setting
 * reads the `<max>/<window>` form). No Nest, no Redis: RateLimiter applies them.
 */
import type { RateLimit } from '../../config/rate-limit-setting';

export type { RateLimit };

/** Who is being limited: one bucket per gateway, per CIBA client, per approver link. */
export type RateLimitKind = 'gateway' | 'ciba_client' | 'approver_link';

/** The fixed window `now` falls in: its index (part of the Redis key) and how long until it ends. */
export function currentWindow(now: number, windowMs: number): { index: number; msLeft: number } {
  const index = Math.floor(now / windowMs);
  return { index, msLeft: (index + 1) * windowMs - now };
}

/** Whole seconds until the window ends, at least 1 (Retry-After takes seconds). */
export function retryAfterSeconds(msLeft: number): number {
  return Math.max(1, Math.ceil(msLeft / 1000));
}

/** A batch link counts against its own bucket, like one more link of the approver's. */
export function approverBatchBucket(approver: { tenantId: string; linkId: string; approverId: string }): string {
  return `${approver.tenantId}\nbatch:${approver.linkId}\n${approver.approverId}`;
}

/** One approver on one request: every link minted for that pair shares one budget. */
export function approverLinkBucket(approver: { tenantId: string; authReqId: string; approverId: string }): string {
  return `${approver.tenantId}\n${approver.authReqId}\n${approver.approverId}`;
}

/** How old the shared count an instance read from Redis may be for it to count requests locally. */
export const KNOWN_COUNT_MAX_AGE_MS = 100;

/**
 * Whether one more request may be counted locally, its Redis increment sent later in a batch:
 * only when the shared count was read from Redis in this window within KNOWN_COUNT_MAX_AGE_MS
 * (`known`, `knownAgeMs`), and the count as far as this instance knows, with this request, stays
 * within half the budget. The second half is counted in Redis on the request path, so the edge of
 * the limit stays exact.
 */
export function countsLocally(known: number | null, knownAgeMs: number, pending: number, max: number): boolean {
  return known !== null && knownAgeMs <= KNOWN_COUNT_MAX_AGE_MS && known + pending + 1 <= Math.floor(max / 2);
}
