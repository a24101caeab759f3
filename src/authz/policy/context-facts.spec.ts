/** Policies written against context.time, context.network and context.velocity: they validate and decide as documented. */
import { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';
import { PolicyEngine } from './policy-engine';

const base = (at: string, over: Partial<CallFacts> = {}, zone = 'UTC'): CallFacts => ({
  agent_id: 'ops-agent',
  agent_class: 'ops',
  trust_level: 'first_party_certified',
  human: 'alice',
  chain_length: 1,
  granted: true,
  intent_category: 'admin',
  action_category: 'admin',
  server: 'infra',
  tool: 'restart_service',
  resource_id: '',
  resource_type: '',
  resource_classification: 'internal',
  environment: 'production',
  amount: null,
  external_destination: false,
  bulk: false,
  reason_given: true,
  session_calls: 1,
  prior_denials: 0,
  prior_step_ups: 0,
  hour_of_day: new Date(at).getUTCHours(),
  gateway_signals: [],
  time: timeFacts(new Date(at), zone),
  network: '',
  velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
  ...over,
});

function engine(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const PERMIT = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

describe('a change window to the minute: weekdays 02:00–04:30 UTC', () => {
  const e = engine({
    permit: PERMIT,
    window: `@reason("outside_change_window")
forbid (principal, action == Action::"call_tool", resource) when { context.environment == "production" } unless {
  context.time.utc.weekday >= 1 && context.time.utc.weekday <= 5 &&
  context.time.utc.minute_of_day >= 120 && context.time.utc.minute_of_day < 270
};`,
  });
  it.each([
    ['2026-12-07T01:59:59.999Z', 'deny'], // Monday, a millisecond early
    ['2026-12-07T02:00:00.000Z', 'allow'],
    ['2026-12-07T04:29:59.999Z', 'allow'],
    ['2026-12-07T04:30:00.000Z', 'deny'], // the window is half-open
    ['2026-12-11T03:00:00Z', 'allow'], // Friday
    ['2026-12-12T03:00:00Z', 'deny'], // Saturday
    ['2026-12-06T03:00:00Z', 'deny'], // Sunday
  ])('at %s: %s', (at, verdict) => {
    expect(e.evaluate(base(at)).verdict).toBe(verdict);
  });
});

describe('a window in the tenant zone follows its daylight saving time', () => {
  // 09:00–17:00 Berlin time, whatever the offset that day.
  const e = engine({
    office: `permit (principal, action == Action::"call_tool", resource) when {
  context.granted && context.time.tenant.hour >= 9 && context.time.tenant.hour < 17
};`,
  });
  it('07:30 UTC is inside in summer (09:30 CEST) and outside in winter (08:30 CET)', () => {
    expect(e.evaluate(base('2026-07-15T07:30:00Z', {}, 'Europe/Berlin')).verdict).toBe('allow'); // 09:30 CEST
    expect(e.evaluate(base('2026-01-15T07:30:00Z', {}, 'Europe/Berlin')).verdict).toBe('deny'); // 08:30 CET
  });
});

describe('a freeze by date, with the datetime extension', () => {
  const e = engine({
    permit: PERMIT,
    freeze: `@reason("year_end_freeze")
forbid (principal, action == Action::"call_tool", resource) when {
  context.time.now >= datetime("2026-12-24") && context.time.now < datetime("2027-01-02")
};`,
  });
  it('denies inside the freeze and allows either side of it', () => {
    expect(e.evaluate(base('2026-12-23T23:59:59.999Z')).verdict).toBe('allow');
    expect(e.evaluate(base('2026-12-24T00:00:00Z')).reasons).toEqual(['year_end_freeze']);
    expect(e.evaluate(base('2027-01-02T00:00:00Z')).verdict).toBe('allow');
  });
});

describe('velocity and network provenance', () => {
  const e = engine({
    permit: `@reason("granted") permit (principal, action == Action::"call_tool", resource) when { context.granted && context.velocity.last_60s <= 20 };`,
    burst: `@reason("burst_needs_approval") @obligation("human_approval") @approvers("delegator")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.velocity.last_60s > 20 };`,
    hourly: `@reason("hourly_cap") forbid (principal, action == Action::"call_tool", resource) when { context.velocity.last_3600s > 500 };`,
    tor: `@reason("network_tor") forbid (principal, action == Action::"call_tool", resource) when { context.network == "tor" };`,
  });
  const at = '2026-12-07T03:00:00Z';

  it('more than 20 calls in 60 s needs approval; 20 does not', () => {
    expect(e.evaluate(base(at, { velocity: { last_60s: 20, last_300s: 20, last_3600s: 20 } })).verdict).toBe('allow');
    expect(e.evaluate(base(at, { velocity: { last_60s: 21, last_300s: 21, last_3600s: 21 } }))).toMatchObject({
      verdict: 'allow_with_obligations',
      reasons: ['burst_needs_approval'],
    });
  });

  it('the longest window caps the hour', () => {
    expect(e.evaluate(base(at, { velocity: { last_60s: 1, last_300s: 5, last_3600s: 501 } })).reasons).toEqual(['hourly_cap']);
  });

  it('denies from tor, and a call with no network provenance is not from tor', () => {
    expect(e.evaluate(base(at, { network: 'tor' })).reasons).toEqual(['network_tor']);
    expect(e.evaluate(base(at, { network: '' })).verdict).toBe('allow');
  });
});

describe('the schema', () => {
  it('refuses a policy that compares the weekday with a string or reads a window the schema lacks', () => {
    for (const cond of ['context.time.utc.weekday == "mon"', 'context.velocity.last_120s > 1', 'context.time.utc.second == 0']) {
      const r = PolicyEngine.compile({ p: `permit (principal, action == Action::"call_tool", resource) when { ${cond} };` });
      expect('errors' in r).toBe(true);
    }
  });
});
