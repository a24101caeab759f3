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
