/**
 * Rate limits as plain values: the `<max>/<window>` form the configuration uses, and the fixed
 * window a request falls in. No Nest, no Redis: RateLimiter applies them.
 */
export interface RateLimit {
  /** Requests allowed in one window. */
  max: number;
  windowMs: number;
}

/** Who is being limited: one bucket per gateway, per CIBA client, per approver link. */
export type RateLimitKind = 'gateway' | 'ciba_client' | 'approver_link';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const RATE_LIMIT_FORMAT = 'must be "<max>/<window>" (e.g. "5000/1s", "120/1m") or "off"';

/** Parses "5000/1s", "120/1m", "10/500ms" ("/s" alone means one second); "off" or "0" disables the limit. */
export function parseRateLimit(value: string): RateLimit | null | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === '0') return null;
  const m = /^(\d{1,9})\/(\d{0,9})(ms|s|m|h)$/.exec(v);
  if (!m) return undefined;
  const max = Number(m[1]);
  const windowMs = Number(m[2] || '1') * UNITS[m[3]];
  if (max < 1 || windowMs < 1 || windowMs > 86_400_000) return undefined;
  return { max, windowMs };
}

/** The fixed window `now` falls in: its index (part of the Redis key) and how long until it ends. */
export function currentWindow(now: number, windowMs: number): { index: number; msLeft: number } {
  const index = Math.floor(now / windowMs);
  return { index, msLeft: (index + 1) * windowMs - now };
}

/** Whole seconds until the window ends, at least 1 (Retry-After takes seconds). */
export function retryAfterSeconds(msLeft: number): number {
  return Math.max(1, Math.ceil(msLeft / 1000));
}

/** One approver on one request: every link minted for that pair shares one budget. */
export function approverLinkBucket(approver: { tenantId: string; authReqId: string; approverId: string }): string {
  return `${approver.tenantId}\n${approver.authReqId}\n${approver.approverId}`;
}
