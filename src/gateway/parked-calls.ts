/**
 * Where the gateway keeps what must survive the request that made it: calls parked for approval
 * (so that the same call retried resumes its approval request), which instance settles an approved
 * call (redeems and forwards it, once), and the approval tokens already used. In this process by
 * default; in Redis (`state.redis_url`) so that every instance behind a load balancer, and an
 * instance after a restart, sees the same: a retry landing anywhere resumes the same auth_req_id.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';

/** A parked call, while it waits for its approvers. */
export interface ParkedCall {
  authReqId: string;
  /** The MCP session that last made (or retried) the call: closing that session cancels the request. */
  sessionId?: string;
  server: string;
  tool: string;
  approvers: string[];
  bindingMessage?: string;
  /** When the approval request expires (ms since epoch). */
  expiresAt: number;
}

/** How long a parked call is kept after its approval request expired (a late retry still learns it expired). */
export const EXPIRED_GRACE_MS = 60_000;

export interface ParkedCalls {
  /** Kept outside this process: a retry may come through another instance, or in another session. */
  readonly shared: boolean;
  get(key: string): Promise<ParkedCall | undefined>;
  /** Parks `call` under `key` unless a call is parked there already; returns the one parked. */
  park(key: string, call: ParkedCall): Promise<ParkedCall>;
  /** Saves what changed (expiry, approvers, the session now waiting), if the same request is still parked. */
  update(key: string, call: ParkedCall): Promise<void>;
  /** Forgets the call, if `authReqId` is still the request parked under `key`. */
  remove(key: string, authReqId: string): Promise<void>;
  /** The calls parked by `sessionId` (and not retried since in another session). */
  ofSession(sessionId: string): Promise<[string, ParkedCall][]>;
  /**
   * The first instance to claim an approved request settles it (redeems the token, forwards the
   * call); the others wait for the outcome it publishes. Claims and outcomes last `ttlMs`.
   */
  claimSettlement(authReqId: string, ttlMs: number): Promise<boolean>;
  publishOutcome(authReqId: string, result: CallToolResult, ttlMs: number): Promise<void>;
  outcome(authReqId: string): Promise<CallToolResult | undefined>;
  /** True the first time a token id is presented (remembered until `expiresAt`, ms), false after. */
  useOnce(jti: string, expiresAt: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Kept in this process: a retry must reach the instance that parked the call, in the same session. */
export class MemoryParkedCalls implements ParkedCalls {
  readonly shared = false;
  private readonly calls = new Map<string, ParkedCall>();
  private readonly claims = new Map<string, number>();
  private readonly outcomes = new Map<string, { result: CallToolResult; until: number }>();
  private readonly used = new Map<string, number>();

  async get(key: string): Promise<ParkedCall | undefined> {
    this.forgetExpired();
    const call = this.calls.get(key);
    return call && { ...call };
  }

  async park(key: string, call: ParkedCall): Promise<ParkedCall> {
    const parked = this.calls.get(key);
    if (parked) return { ...parked };
    this.calls.set(key, { ...call });
    return call;
  }

  async update(key: string, call: ParkedCall): Promise<void> {
    if (this.calls.get(key)?.authReqId === call.authReqId) this.calls.set(key, { ...call });
  }

  async remove(key: string, authReqId: string): Promise<void> {
    if (this.calls.get(key)?.authReqId === authReqId) this.calls.delete(key);
  }

  async ofSession(sessionId: string): Promise<[string, ParkedCall][]> {
    return [...this.calls].filter(([, c]) => c.sessionId === sessionId).map(([k, c]) => [k, { ...c }]);
  }

  async claimSettlement(authReqId: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    if ((this.claims.get(authReqId) ?? 0) > now) return false;
    this.claims.set(authReqId, now + ttlMs);
    return true;
  }

  async publishOutcome(authReqId: string, result: CallToolResult, ttlMs: number): Promise<void> {
    this.outcomes.set(authReqId, { result, until: Date.now() + ttlMs });
  }

  async outcome(authReqId: string): Promise<CallToolResult | undefined> {
    const o = this.outcomes.get(authReqId);
    return o && o.until > Date.now() ? o.result : undefined;
  }

  async useOnce(jti: string, expiresAt: number): Promise<boolean> {
    const now = Date.now();
    for (const [id, exp] of this.used) if (exp <= now) this.used.delete(id);
    if (this.used.has(jti)) return false;
    this.used.set(jti, expiresAt);
    return true;
  }

  async close(): Promise<void> {
    this.calls.clear();
  }

  /** Parked calls whose approval request has expired and that nobody retried: nothing is left to resume. */
  private forgetExpired(): void {
    const now = Date.now();
    for (const [key, c] of this.calls) if (c.expiresAt < now - EXPIRED_GRACE_MS) this.calls.delete(key);
    for (const [id, until] of this.claims) if (until <= now) this.claims.delete(id);
    for (const [id, o] of this.outcomes) if (o.until <= now) this.outcomes.delete(id);
  }
}

// Replaces the record only while the same approval request is parked under the key (a retry that
// parked a newer request is not overwritten by a late update of the old one).
const UPDATE_IF_SAME = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if cjson.decode(current).authReqId ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;
const REMOVE_IF_SAME = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).authReqId == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * In Redis, under `<prefix>:`: `parked:<key>` (the call, expiring with its approval request plus a
 * minute), `session:<id>` (the keys a session parked), `settle:<auth_req_id>` and
 * `outcome:<auth_req_id>` (who forwards an approved call, and what came back), `jti:<jti>` (used
 * approval tokens, until they expire).
 */
export class RedisParkedCalls implements ParkedCalls {
  readonly shared = true;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private k(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  async get(key: string): Promise<ParkedCall | undefined> {
    const json = await this.redis.get(this.k('parked', key));
    return json ? (JSON.parse(json) as ParkedCall) : undefined;
  }

  async park(key: string, call: ParkedCall): Promise<ParkedCall> {
    const ttl = lifetime(call);
    const set = await this.redis.set(this.k('parked', key), JSON.stringify(call), 'PX', ttl, 'NX');
    if (set !== 'OK') {
      const parked = await this.get(key);
      if (parked) return parked;
      // Gone between the two commands (settled or expired): park ours.
      await this.redis.set(this.k('parked', key), JSON.stringify(call), 'PX', ttl);
    }
    await this.index(key, call);
    return call;
  }

  async update(key: string, call: ParkedCall): Promise<void> {
    const updated = await this.redis.eval(UPDATE_IF_SAME, 1, this.k('parked', key), call.authReqId, JSON.stringify(call), lifetime(call));
    if (updated === 1) await this.index(key, call);
  }

  async remove(key: string, authReqId: string): Promise<void> {
    await this.redis.eval(REMOVE_IF_SAME, 1, this.k('parked', key), authReqId);
  }

  async ofSession(sessionId: string): Promise<[string, ParkedCall][]> {
    const keys = await this.redis.smembers(this.k('session', sessionId));
    const calls = await Promise.all(keys.map(async (key) => [key, await this.get(key)] as const));
    return calls.filter((c): c is [string, ParkedCall] => c[1]?.sessionId === sessionId);
  }

  async claimSettlement(authReqId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.k('settle', authReqId), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async publishOutcome(authReqId: string, result: CallToolResult, ttlMs: number): Promise<void> {
    await this.redis.set(this.k('outcome', authReqId), JSON.stringify(result), 'PX', ttlMs);
  }

  async outcome(authReqId: string): Promise<CallToolResult | undefined> {
    const json = await this.redis.get(this.k('outcome', authReqId));
    return json ? (JSON.parse(json) as CallToolResult) : undefined;
  }

  async useOnce(jti: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1000, expiresAt - Date.now());
    return (await this.redis.set(this.k('jti', jti), '1', 'PX', ttl, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    // The connection belongs to whoever opened it (gateway-state.ts).
  }

  /** The session's index of parked keys lives as long as the longest-lived of them. */
  private async index(key: string, call: ParkedCall): Promise<void> {
    if (!call.sessionId) return;
    const set = this.k('session', call.sessionId);
    await this.redis.multi().sadd(set, key).pexpire(set, lifetime(call), 'GT').pexpire(set, lifetime(call), 'NX').exec();
  }
}

/** A parked call is kept until its approval request expired a minute ago: nothing is left to resume after. */
function lifetime(call: ParkedCall): number {
  return Math.max(1000, call.expiresAt - Date.now() + EXPIRED_GRACE_MS);
}
