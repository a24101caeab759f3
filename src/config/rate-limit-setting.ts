/**
 * The `<max>/<window>` form of the *_RATE_LIMIT settings. It lives with the configuration, which
 * reads it at start-up; common/rate-limit applies the limits it yields.
 */
export interface RateLimit {
  /** Requests allowed in one window. */
  max: number;
  windowMs: number;
}

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
