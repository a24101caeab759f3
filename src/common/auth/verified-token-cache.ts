/**
 * Callers reuse one token for many calls: a verified token is remembered for at most 30 s and
 * never past its `exp`, so the signature check is paid once, not per call. The cost: a key
 * removed from a JWKS keeps working for its cached tokens up to 30 s longer. Bounded in size;
 * the oldest entry goes first.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry && Date.now() < entry.until) return entry.value;
    if (entry) this.entries.delete(key);
    return undefined;
  }

  /** `exp` in seconds since the epoch, as in the JWT. */
  set(key: string, value: T, exp: number): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: Math.min(exp * 1000, Date.now() + this.ttlMs) });
  }
}
