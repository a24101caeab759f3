import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { RedisConnections } from '../common/redis/redis-connections';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Velocity, VELOCITY_WINDOWS } from './policy/cedar-schema';

export interface SessionSignals {
  /** Calls in this session within SESSION_WINDOW_SECONDS, this one included. */
  session_calls: number;
  /** Calls in this session within each of the schema's windows, this one included. */
  velocity: Velocity;
  prior_denials: number;
  prior_step_ups: number;
}

/**
 * Risk signals the service computes itself, per session (the MCP session, else the agent):
 * sliding-window call counts and the denials and step-ups so far, in Redis so every instance
 * sees the same numbers. One round trip per decision: a MULTI that records the call, trims the
 * session's sorted set to the longest window, and counts each window (ZCOUNT).
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

  /**
   * Counts this call and reads the session's history. `dryRun` reads without counting (simulation).
   * `now` is the service's own clock, never a gateway's observed time: a gateway cannot move its
   * calls out of a window by back-dating them.
   */
  async observe(tenantId: string, session: string, now = new Date(), dryRun = false): Promise<SessionSignals> {
    const { calls, outcomes } = this.keys(tenantId, session);
    const windows = [this.config.SESSION_WINDOW_SECONDS, ...VELOCITY_WINDOWS];
    // The longest window bounds what the sorted set keeps.
    const retentionMs = Math.max(...windows) * 1000;
    const t = now.getTime();
    const p = this.redis.commands.multi();
    if (!dryRun) p.zadd(calls, t, `${t}-${randomBytes(4).toString('hex')}`);
    p.zremrangebyscore(calls, 0, t - retentionMs);
    // Strictly inside each window (as the trim was, for the one window there used to be); entries
    // another instance's slightly fast clock put in the future count too.
    for (const w of windows) p.zcount(calls, `(${t - w * 1000}`, '+inf');
    if (!dryRun) p.pexpire(calls, retentionMs);
    p.hmget(outcomes, 'denials', 'step_ups');
    const results = (await p.exec()) ?? [];
    const values = results.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    const first = dryRun ? 1 : 2;
    // A simulated call counts itself, as a real one would.
    const counts = windows.map((_, i) => Number(values[first + i]) + (dryRun ? 1 : 0));
    const [denials, stepUps] = values[values.length - 1] as (string | null)[];
    return {
      session_calls: counts[0],
      velocity: Object.fromEntries(VELOCITY_WINDOWS.map((w, i) => [`last_${w}s`, counts[i + 1]])) as Velocity,
      prior_denials: Number(denials ?? 0),
      prior_step_ups: Number(stepUps ?? 0),
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
