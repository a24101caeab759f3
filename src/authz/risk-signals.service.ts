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
 * Records the call (unless ARGV[1] is empty: a simulation reads without counting), trims the
 * sorted set to the longest window, counts each window and reads the session's outcomes.
 * KEYS: calls, outcomes. ARGV: member, now, trim cutoff, retention ms, then each window's
 * exclusive lower bound ("(<ms>").
 */
const OBSERVE = `
local member, now, cutoff, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if member ~= '' then redis.call('ZADD', KEYS[1], now, member) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, cutoff)
local out = {}
for i = 5, #ARGV do out[#out + 1] = redis.call('ZCOUNT', KEYS[1], ARGV[i], '+inf') end
if member ~= '' then redis.call('PEXPIRE', KEYS[1], retention) end
local outcomes = redis.call('HMGET', KEYS[2], 'denials', 'step_ups')
out[#out + 1] = outcomes[1]
out[#out + 1] = outcomes[2]
return out
`;

type ObserveScript = (calls: string, outcomes: string, ...args: string[]) => Promise<(number | string | null)[]>;

/**
 * Risk signals the service computes itself, per session (the MCP session, else the agent):
 * sliding-window call counts and the denials and step-ups so far, in Redis so every instance
 * sees the same numbers. One round trip per decision, and one command: a script that records
 * the call, trims the session's sorted set to the longest window, and counts each window
 * (a MULTI of the same commands cost the client a command object and a reply per command).
 */
@Injectable()
export class RiskSignals {
  private readonly observeScript: ObserveScript;
  /** Members of a session's sorted set must be unique: this instance's nonce and a counter make them so without a CSPRNG call per decision. */
  private readonly instance = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // EVALSHA, falling back to EVAL once when the server has not seen the script (ioredis).
    redis.commands.defineCommand('countersignObserveSession', { numberOfKeys: 2, lua: OBSERVE });
    const commands = redis.commands as unknown as Record<string, ObserveScript>;
    this.observeScript = commands.countersignObserveSession.bind(redis.commands);
  }

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
    const member = dryRun ? '' : `${t}-${this.instance}-${(this.sequence = (this.sequence + 1) % Number.MAX_SAFE_INTEGER)}`;
    // Strictly inside each window (as the trim was, for the one window there used to be); entries
    // another instance's slightly fast clock put in the future count too.
    const lowerBounds = windows.map((w) => `(${t - w * 1000}`);
    const values = await this.observeScript(calls, outcomes, member, String(t), String(t - retentionMs), String(retentionMs), ...lowerBounds);
    // A simulated call counts itself, as a real one would.
    const counts = windows.map((_, i) => Number(values[i]) + (dryRun ? 1 : 0));
    const [denials, stepUps] = values.slice(windows.length);
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
