import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { RateLimited } from '../errors/protocol-errors';
import { RedisConnections } from '../redis/redis-connections';
import { currentWindow, RateLimit, RateLimitKind, retryAfterSeconds } from './rate-limit';

const WHO: Record<RateLimitKind, string> = {
  gateway: 'this gateway',
  ciba_client: 'this client',
  approver_link: 'this approver link',
};

/**
 * Rate limits shared by every instance: a fixed-window counter in Redis per caller (gateway,
 * CIBA client, approver link), one MULTI round trip (INCR, then PEXPIRE so the key outlives its
 * window by one window and then goes). A caller over its limit gets 429 rate_limited with
 * Retry-After = the seconds left in the window; refused requests count too, so hammering does
 * not shorten the wait. The window is the local clock's: instances a few ms apart disagree only
 * at the edge of a window.
 */
@Injectable()
export class RateLimiter {
  private readonly limits: Record<RateLimitKind, RateLimit | null>;

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
    const results = await this.redis.commands.multi().incr(key).pexpire(key, limit.windowMs * 2).exec();
    const [err, count] = results?.[0] ?? [new Error('rate limit transaction aborted'), 0];
    if (err) throw err;
    if (Number(count) > limit.max) {
      throw new RateLimited(`too many requests from ${WHO[kind]}: at most ${limit.max} per ${limit.windowMs / 1000} s; retry later`, retryAfterSeconds(msLeft));
    }
  }
}
