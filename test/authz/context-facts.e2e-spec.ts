/**
 * The decision time, velocity windows and network provenance end to end (real HTTP, Postgres,
 * Redis): policy sets written against context.time, context.velocity and context.network are
 * published through the admin API and decide /v1/authorize calls; the audit records the clock.
 *
 * Time is made deterministic by the gateway's observed_at: each window is computed from the
 * test's clock and probed with observed times on either side of its edges, all within the skew
 * this app allows (120 s, so a minute boundary is always in reach).
 */
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const KOLKATA_OFFSET_MINUTES = 330; // UTC+05:30, no daylight saving time

const GRANTED = `@reason("granted") permit (principal, action == Action::"call_tool", resource) when { context.granted };`;

describe('context.time, context.velocity and context.network', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let admin: string;
  let agent: string;

  const authorize = (extra: Record<string, unknown> = {}, tool = 'restart_service') =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'infra', tool, arguments: {} },
        intent: { category: 'admin' },
        reason: 'scheduled maintenance',
        correlation: { mcp_session_id: `s-${randomUUID()}` },
        ...extra,
      },
    });
  const publish = async (policies: Record<string, string>) => {
    const res = await call(api.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate: true } });
    expect(res.status).toBe(201);
  };
  const audited = async (decisionId: string) =>
    (await sql(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [decisionId]))[0]?.data;

  /** The start of the current UTC minute. */
  const minuteStart = () => Math.floor(Date.now() / 60_000) * 60_000;
  const minuteOfDay = (ms: number) => Math.floor((ms % 86_400_000) / 60_000);
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ DECISION_TIME_SKEW_SECONDS: '120', TENANT_TIME_ZONES: JSON.stringify({ acme: 'Asia/Kolkata' }) });
    gateway = await tenantToken('acme', 'gateway-1');
    admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    agent = await agentToken({ human: 'alice', actors: ['ops-agent'] });
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: 'alice', agent: 'ops-agent', tools: ['infra/*'] } });
    expect(granted.status).toBe(201);
  });
  afterAll(() => env.teardown());

  it('a change window of one UTC minute on this weekday admits observed times from its first to its last millisecond, and no other', async () => {
    const start = minuteStart();
    const m = minuteOfDay(start);
    const weekday = new Date(start).getUTCDay();
    await publish({
      granted: GRANTED,
      window: `@reason("outside_change_window")
forbid (principal, action == Action::"call_tool", resource) unless {
  context.time.utc.weekday == ${weekday} && context.time.utc.minute_of_day >= ${m} && context.time.utc.minute_of_day < ${m + 1}
};`,
    });
    const verdicts: Record<string, unknown> = {};
    for (const at of [start - 1, start, start + 59_999, start + 60_000]) {
      const res = await authorize({ observed_at: iso(at) });
      verdicts[iso(at)] = [res.status, res.body.verdict, res.body.reasons];
    }
    expect(verdicts).toEqual({
      [iso(start - 1)]: [403, 'deny', ['outside_change_window']],
      [iso(start)]: [200, 'allow', ['granted']],
      [iso(start + 59_999)]: [200, 'allow', ['granted']],
      [iso(start + 60_000)]: [403, 'deny', ['outside_change_window']],
    });
  });

  it("a window written in the tenant's zone (Asia/Kolkata for acme) is judged on the tenant's wall clock", async () => {
    const start = minuteStart();
    const local = (minuteOfDay(start) + KOLKATA_OFFSET_MINUTES) % 1440;
    await publish({
      granted: GRANTED,
      window: `@reason("outside_local_window")
forbid (principal, action == Action::"call_tool", resource) unless {
  context.time.tenant.zone == "Asia/Kolkata" && context.time.tenant.hour == ${Math.floor(local / 60)} && context.time.tenant.minute == ${local % 60}
};`,
    });
    expect((await authorize({ observed_at: iso(start + 1_000) })).body).toMatchObject({ verdict: 'allow' });
    expect((await authorize({ observed_at: iso(start - 1_000) })).body).toMatchObject({ verdict: 'deny', reasons: ['outside_local_window'] });
  });

  it('the audit records the decision time, the observed time as sent and the service clock', async () => {
    await publish({ granted: GRANTED });
    const observed = new Date(Date.now() - 5_000).toISOString().replace('Z', '+00:00');
    const res = await authorize({ observed_at: observed });
    expect(res.body.verdict).toBe('allow');
    const data = await audited(res.body.decision_id);
    expect(data.clock).toMatchObject({ source: 'observed', observed_at: observed, decided_at: iso(Date.parse(observed)) });
    expect(Math.abs(Date.parse(data.clock.service_time) - Date.now())).toBeLessThan(10_000);
    expect(data.clock.skew_ms).toBe(Date.parse(observed) - Date.parse(data.clock.service_time));
    expect(data.facts.time).toMatchObject({
      now: { __extn: { fn: 'datetime', arg: iso(Date.parse(observed)) } },
      epoch_seconds: Math.floor(Date.parse(observed) / 1000),
      utc: { zone: 'UTC', minute_of_day: minuteOfDay(Date.parse(observed)) },
      tenant: { zone: 'Asia/Kolkata' },
    });
    expect(data.facts.hour_of_day).toBe(new Date(observed).getUTCHours());
  });

  it('an observed_at further off than the skew is not used: the service clock decides and the audit says so', async () => {
    const tenMinutesAgo = minuteStart() - 10 * 60_000;
    const m = minuteOfDay(tenMinutesAgo);
    await publish({
      granted: GRANTED,
      window: `@reason("outside_change_window")
forbid (principal, action == Action::"call_tool", resource) unless { context.time.utc.minute_of_day == ${m} };`,
    });
    const res = await authorize({ observed_at: iso(tenMinutesAgo + 30_000) });
    expect(res.body).toMatchObject({ verdict: 'deny', reasons: ['outside_change_window'] });
    const data = await audited(res.body.decision_id);
    expect(data.clock).toMatchObject({ source: 'service', observed_at: iso(tenMinutesAgo + 30_000), note: 'observed_at_outside_skew' });
    expect(data.clock.decided_at).toBe(data.clock.service_time);
    expect(data.clock.skew_ms).toBeLessThan(-9 * 60_000);
  });

  it('without observed_at the service clock decides', async () => {
    await publish({ granted: GRANTED });
    const res = await authorize();
    const data = await audited(res.body.decision_id);
    expect(data.clock).toEqual({ source: 'service', decided_at: data.clock.service_time, service_time: data.clock.service_time });
    expect(data.clock.observed_at).toBeUndefined();
  });

  it.each([
    ['a word', 'yesterday'],
    ['a date-time without a zone', '2026-12-07T04:30:00'],
    ['a date with no time', '2026-12-07'],
    ['an impossible date', '2026-02-30T04:30:00Z'],
    ['a number', 1796613000],
  ])('an observed_at that is %s is 400 naming observed_at, and nothing is decided', async (_, value) => {
    const before = (await sql(env.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE type = 'authz.decision'`))[0].n;
    const res = await authorize({ observed_at: value });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field: 'observed_at' });
    expect((await sql(env.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE type = 'authz.decision'`))[0].n).toBe(before);
  });

  it('more than 3 calls in 60 s of one session needs approval; the counts in each window reach the policy', async () => {
    await publish({
      granted: `@reason("granted") permit (principal, action == Action::"call_tool", resource) when { context.granted && context.velocity.last_60s <= 3 };`,
      burst: `@reason("burst_needs_approval") @obligation("human_approval") @approvers("delegator")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.velocity.last_60s > 3 };`,
    });
    const session = { mcp_session_id: `s-${randomUUID()}` };
    const verdicts: string[] = [];
    let last: any;
    for (let i = 0; i < 5; i++) {
      last = (await authorize({ correlation: session }, 'ping')).body;
      verdicts.push(last.verdict);
    }
    expect(verdicts).toEqual(['allow', 'allow', 'allow', 'allow_with_obligations', 'allow_with_obligations']);
    expect(last.reasons).toEqual(['burst_needs_approval']);
    const data = await audited(last.decision_id);
    expect(data.facts.velocity).toEqual({ last_60s: 5, last_300s: 5, last_3600s: 5 });
    expect(data.facts.session_calls).toBe(5);
    // Another session starts from nothing.
    expect((await authorize({}, 'ping')).body.verdict).toBe('allow');
  });

  it('the velocity windows count only the calls inside them (older calls leave the 60 s window but stay in the hour)', async () => {
    const session = `s-${randomUUID()}`;
    // Two calls 90 s ago, written where the service keeps the session's calls.
    const key = `${env.redisPrefix}:session:acme:${session}:calls`;
    const redis = new Redis(api.config.REDIS_URL);
    const old = Date.now() - 90_000;
    await redis.zadd(key, old, `${old}-a`, old + 1, `${old + 1}-b`);
    redis.disconnect();
    const res = await call(api.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: { agent: { token: agent }, action: { server: 'infra', tool: 'ping', arguments: {} }, correlation: { mcp_session_id: session } },
    });
    expect(res.status).toBe(200);
    expect(res.body.facts.velocity).toEqual({ last_60s: 1, last_300s: 3, last_3600s: 3 });
  });

  it('the windows keep counting when Redis has forgotten the counting script (SCRIPT FLUSH, as after a restart), and calls at once each count', async () => {
    await publish({ granted: GRANTED });
    const session = { mcp_session_id: `s-${randomUUID()}` };
    expect((await authorize({ correlation: session }, 'ping')).status).toBe(200);
    const redis = new Redis(api.config.REDIS_URL);
    await redis.script('FLUSH');
    redis.disconnect();
    // Four at once: each needs its own member in the session's sorted set, even within one millisecond.
    const burst = await Promise.all([1, 2, 3, 4].map(() => authorize({ correlation: session }, 'ping')));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const last = (await authorize({ correlation: session }, 'ping')).body;
    expect((await audited(last.decision_id)).facts).toMatchObject({ session_calls: 6, velocity: { last_60s: 6, last_300s: 6, last_3600s: 6 } });
  });

  it('risk.network reaches the policy as context.network (lower-cased; "" when absent): deny from tor', async () => {
    await publish({
      granted: GRANTED,
      tor: `@reason("network_tor") forbid (principal, action == Action::"call_tool", resource) when { context.network == "tor" };`,
    });
    expect((await authorize({ risk: { network: 'tor' } })).body).toMatchObject({ verdict: 'deny', reasons: ['network_tor'] });
    expect((await authorize({ risk: { network: 'TOR' } })).body).toMatchObject({ verdict: 'deny', reasons: ['network_tor'] });
    expect((await authorize({ risk: { network: 'corporate' } })).body).toMatchObject({ verdict: 'allow' });
    const absent = await authorize();
    expect(absent.body.verdict).toBe('allow');
    expect((await audited(absent.body.decision_id)).facts.network).toBe('');
  });
});
