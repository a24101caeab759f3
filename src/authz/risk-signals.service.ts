import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { RedisConnections } from '../common/redis/redis-connections';
import { APP_CONFIG, AppConfig } from '../config/app-config';

export interface SessionSignals {
  /** Calls in this session within the sliding window, this one included. */
  session_calls: number;
  prior_denials: number;
  prior_step_ups: number;
  hour_of_day: number;
}

/**
 * Risk signals the service computes itself, per session (the MCP session, else the agent):
 * a sliding-window call count and the denials and step-ups so far, in Redis so every instance
 * sees the same numbers. One round trip per decision.
 */
@Injectable()
export class RiskSignals {
  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private keys(tenantId: string, session: string) {
    const base = this.redis.key(`session:${tenantId}:${session}`);
    return { calls: `${base}:calls`, outcomes: `${base}:outcomes` };
  }

  /** Counts this call and reads the session's history. `dryRun` reads without counting (simulation). */
  async observe(tenantId: string, session: string, now = new Date(), dryRun = false): Promise<SessionSignals> {
    const { calls, outcomes } = this.keys(tenantId, session);
    const windowMs = this.config.SESSION_WINDOW_SECONDS * 1000;
    const t = now.getTime();
    const p = this.redis.commands.multi();
    if (!dryRun) p.zadd(calls, t, `${t}-${randomBytes(4).toString('hex')}`);
    p.zremrangebyscore(calls, 0, t - windowMs);
    p.zcard(calls);
    if (!dryRun) p.pexpire(calls, windowMs);
    p.hmget(outcomes, 'denials', 'step_ups');
    const results = (await p.exec()) ?? [];
    const values = results.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    const count = Number(values[dryRun ? 1 : 2]);
    const [denials, stepUps] = values[values.length - 1] as (string | null)[];
    return {
      session_calls: count + (dryRun ? 1 : 0),
      prior_denials: Number(denials ?? 0),
      prior_step_ups: Number(stepUps ?? 0),
      hour_of_day: now.getUTCHours(),
    };
  }

  async record(tenantId: string, session: string, verdict: 'allow' | 'deny' | 'allow_with_obligations'): Promise<void> {
    if (verdict === 'allow') return;
    const { outcomes } = this.keys(tenantId, session);
    await this.redis.commands
      .multi()
      .hincrby(outcomes, verdict === 'deny' ? 'denials' : 'step_ups', 1)
      .expire(outcomes, 24 * 3600)
      .exec();
  }
}
