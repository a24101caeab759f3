import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { RateLimited } from '../errors/protocol-errors';
import { RedisConnections } from '../redis/redis-connections';
import { countsLocally, currentWindow, RateLimit, RateLimitKind, retryAfterSeconds } from './rate-limit';

const WHO: Record<RateLimitKind, string> = {
  gateway: 'this gateway',
  ciba_client: 'this client',
  approver_link: 'this approver link',
};

/** How long locally counted requests wait before their increments go to Redis, in one pipeline for every caller. */
export const RATE_LIMIT_FLUSH_MS = 20;

/** One caller's window as this instance sees it. */
interface Bucket {
  windowMs: number;
  windowEnd: number;
  /** The shared count Redis last answered for this window (null: not read yet), and when. */
  known: number | null;
  knownAt: number;
  /** Requests admitted here whose increments have not reached Redis yet. */
  pending: number;
}

/**
 * Rate limits shared by every instance: a fixed-window counter in Redis per caller (gateway,
 * CIBA client, approver link). A caller over its limit gets 429 rate_limited with Retry-After =
 * the seconds left in the window; refused requests count too, so hammering does not shorten the
 * wait. The window is the local clock's: instances a few ms apart disagree only at the edge.
 *
 * The Redis round trip is off the request path while a caller is far from its limit: a request
 * is counted in Redis (INCRBY, PEXPIRE so the key outlives its window by one window) when this
 * instance has not read the shared count in the last KNOWN_COUNT_MAX_AGE_MS; while what it read
 * stays fresh and, with the requests counted here since, within half the budget, requests are
 * admitted here and their increments sent every RATE_LIMIT_FLUSH_MS in one pipeline for all
 * callers (whose answers refresh what this instance knows). The second half of the budget is
 * counted in Redis on the request path, with the increments still owed, so the limit is exact at
 * its edge for one instance. With several, a request can pass on a count another instance raised
 * in the last ~KNOWN_COUNT_MAX_AGE_MS; each instance admits at most half a budget per window that
 * way. Small limits (max 1 to 3) are always counted on the request path. A busy caller costs about
 * one Redis round trip per flush interval per instance instead of one per request.
 */
@Injectable()
export class RateLimiter implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly limits: Record<RateLimitKind, RateLimit | null>;
  private readonly buckets = new Map<string, Bucket>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private flushFailed = false;

  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limits = { gateway: config.RATE_LIMIT_GATEWAY, ciba_client: config.RATE_LIMIT_CIBA_CLIENT, approver_link: config.RATE_LIMIT_APPROVER_LINK };
  }

  /** Counts one request of `caller`; throws RateLimited when it is over its limit. */
  async consume(kind: RateLimitKind, caller: string, now = Date.now()): Promise<void> {
    const limit = this.limits[kind];
    if (!limit) return;
    const { index, msLeft } = currentWindow(now, limit.windowMs);
    const key = this.redis.key(`ratelimit:${kind}:${encodeURIComponent(caller)}:${index}`);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { windowMs: limit.windowMs, windowEnd: now + msLeft, known: null, knownAt: 0, pending: 0 };
      this.buckets.set(key, bucket);
    }
    if (countsLocally(bucket.known, now - bucket.knownAt, bucket.pending, limit.max)) {
      bucket.pending++;
      this.scheduleFlush();
      return;
    }
    // This request and the increments still owed, in one round trip.
    const add = bucket.pending + 1;
    bucket.pending = 0;
    let count: number;
    try {
      const results = await this.redis.commands
        .multi()
        .incrby(key, add)
        .pexpire(key, limit.windowMs * 2)
        .exec();
      const [err, value] = results?.[0] ?? [new Error('rate limit transaction aborted'), 0];
      if (err) throw err;
      count = Number(value);
    } catch (e) {
      bucket.pending += add - 1; // this request fails; the others' increments are still owed
      throw e;
    }
    bucket.known = Math.max(bucket.known ?? 0, count);
    bucket.knownAt = now;
    if (count > limit.max) {
      throw new RateLimited(`too many requests from ${WHO[kind]}: at most ${limit.max} per ${limit.windowMs / 1000} s; retry later`, retryAfterSeconds(msLeft));
    }
  }

  /** Sends the increments still owed (the process is going: they count for the other instances). */
  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush().catch(() => undefined);
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush()
        .catch((e: Error) => {
          // The increments stay owed and go with the next flush; said once per outage.
          if (!this.flushFailed) this.logger.warn(`rate limit counts could not reach Redis, will retry: ${e.message}`);
          this.flushFailed = true;
          this.scheduleFlush();
        })
        .finally(() => (this.flushing = undefined));
    }, RATE_LIMIT_FLUSH_MS);
    this.timer.unref();
  }

  /** One pipeline: INCRBY and PEXPIRE per caller with increments owed; what Redis answers becomes what this instance knows. */
  async flush(now = Date.now()): Promise<void> {
    const owed: [string, Bucket, number][] = [];
    for (const [key, bucket] of this.buckets) {
      if (bucket.pending > 0) owed.push([key, bucket, bucket.pending]);
      else if (bucket.windowEnd <= now) this.buckets.delete(key);
    }
    if (owed.length === 0) return;
    const pipeline = this.redis.commands.pipeline();
    for (const [key, bucket, n] of owed) {
      bucket.pending -= n;
      pipeline.incrby(key, n).pexpire(key, bucket.windowMs * 2);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (e) {
      for (const [, bucket, n] of owed) bucket.pending += n;
      throw e;
    }
    let failed: Error | undefined;
    owed.forEach(([, bucket, n], i) => {
      const [err, value] = results?.[2 * i] ?? [new Error('rate limit pipeline aborted'), 0];
      if (err) {
        bucket.pending += n;
        failed = err;
      } else {
        bucket.known = Math.max(bucket.known ?? 0, Number(value));
        bucket.knownAt = now;
      }
    });
    if (failed) throw failed;
    this.flushFailed = false;
  }
}
