/** Policies over each hop's delegation (context.delegation, context.delegation_chain): they validate, decide as documented, and cost nothing when unread. */
import { callFacts } from './call-facts.fixture';
import { DelegationFacts } from './cedar-schema';
import { delegationContext } from './delegation-facts';
import { PolicyEngine } from './policy-engine';

function engine(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const PERMIT = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';
const NOW = '2026-12-07T12:00:00.000Z';
const HOUR = 3600_000;
const at = (offsetMs: number) => new Date(Date.parse(NOW) + offsetMs).toISOString();
const hop = (over: Partial<DelegationFacts> = {}): DelegationFacts => ({
  id: 'dlg_1',
  purpose: 'invoicing',
  granted_at: at(-2 * HOUR),
  not_before: null,
  expires_at: at(6 * HOUR),
  tools: ['payments-mcp/*'],
  resources: null,
  ...over,
});

describe('the delegation the current actor acts under (context.delegation)', () => {
  const e = engine({
    permit: PERMIT,
    purpose: `@reason("purpose_not_invoicing")
forbid (principal, action == Action::"call_tool", resource) unless { context.delegation has purpose && context.delegation.purpose == "invoicing" };`,
    short: `@reason("delegation_under_a_day")
forbid (principal, action == Action::"call_tool", resource) when { context.delegation has window_seconds && context.delegation.window_seconds < 86400 };`,
  });
  const decide = (delegations: DelegationFacts[]) => {
    const d = e.evaluate(callFacts({ delegations }));
    return [d.verdict, ...d.reasons].join(' ');
  };

  it("reads the leaf hop: the purpose and window of the human's grant upstream do not stand in for it", () => {
    const human = hop({ id: 'dlg_h', purpose: 'invoicing', expires_at: null });
    expect(decide([human, hop({ id: 'dlg_leaf', purpose: 'travel', expires_at: null })])).toBe('deny purpose_not_invoicing');
    expect(decide([hop({ id: 'dlg_h', purpose: 'travel', expires_at: null }), hop({ id: 'dlg_leaf', expires_at: null })])).toBe('allow permit');
  });
  it('a grant that states no purpose has none (`has` is false), so a rule requiring one denies', () => {
    expect(decide([hop({ purpose: null, expires_at: null })])).toBe('deny purpose_not_invoicing');
  });
  it.each([
    ['granted for 8 hours', hop(), 'deny delegation_under_a_day'],
    ['granted for exactly a day', hop({ expires_at: at(22 * HOUR) }), 'allow permit'],
    ['a day less a second', hop({ expires_at: at(22 * HOUR - 1000) }), 'deny delegation_under_a_day'],
    ['a day counted from not_before, not from the grant', hop({ not_before: at(HOUR), expires_at: at(24 * HOUR) }), 'deny delegation_under_a_day'],
    ['with no expiry (no window)', hop({ expires_at: null }), 'allow permit'],
  ])('%s', (_name, d, verdict) => {
    expect(decide([d])).toBe(verdict);
  });

  it("carries the grant's instants as datetimes, its remaining time at the decision, its tools and resources", () => {
    const { delegation } = delegationContext(callFacts({ delegations: [hop({ not_before: at(-HOUR), resources: ['acct-*'] })] }));
    expect(delegation).toEqual({
      id: 'dlg_1',
      purpose: 'invoicing',
      granted_at: { __extn: { fn: 'datetime', arg: at(-2 * HOUR) } },
      not_before: { __extn: { fn: 'datetime', arg: at(-HOUR) } },
      expires_at: { __extn: { fn: 'datetime', arg: at(6 * HOUR) } },
      window_seconds: 7 * 3600,
      remaining_seconds: 6 * 3600,
      tools: ['payments-mcp/*'],
      resources: ['acct-*'],
    });
    const e2 = engine({
      permit: PERMIT,
      expiring: `@reason("expiring_soon")
forbid (principal, action == Action::"call_tool", resource) when { context.delegation has expires_at && context.delegation.expires_at < context.time.now.offset(duration("1h")) };`,
    });
    expect(e2.evaluate(callFacts({ delegations: [hop({ expires_at: at(HOUR - 1) })] })).reasons).toEqual(['expiring_soon']);
    expect(e2.evaluate(callFacts({ delegations: [hop({ expires_at: at(HOUR) })] })).reasons).toEqual(['permit']);
  });
  it('a chain with no delegation in force shows an empty one (the built-in denies such a call anyway), never a policy error', () => {
    const d = e.evaluate(callFacts({ delegations: [], granted: false }));
    expect(d.reasons).not.toContain('policy_error');
    expect(delegationContext(callFacts({ delegations: [] }))).toMatchObject({ delegation: { id: '', tools: [] }, delegation_chain: { hops: 0, purposes: [] } });
  });
});

describe('summaries over every hop (context.delegation_chain)', () => {
  const e = engine({
    permit: PERMIT,
    every_invoicing: `@reason("not_all_for_invoicing")
forbid (principal, action == Action::"call_tool", resource) unless { context.delegation_chain.without_purpose == 0 && context.delegation_chain.purposes == ["invoicing"] };`,
    shortest: `@reason("a_hop_under_a_day")
forbid (principal, action == Action::"call_tool", resource) when { context.delegation_chain has shortest_window_seconds && context.delegation_chain.shortest_window_seconds < 86400 };`,
  });
  const decide = (delegations: DelegationFacts[]) => e.evaluate(callFacts({ delegations })).reasons.join(' ');

  it('every hop for invoicing: one hop for anything else, or stating none, denies', () => {
    expect(decide([hop({ expires_at: null }), hop({ id: 'dlg_2', expires_at: null })])).toBe('permit');
    expect(decide([hop({ purpose: 'travel', expires_at: null }), hop({ id: 'dlg_2', expires_at: null })])).toBe('not_all_for_invoicing');
    expect(decide([hop({ purpose: null, expires_at: null }), hop({ id: 'dlg_2', expires_at: null })])).toBe('not_all_for_invoicing');
  });
  it('the shortest window of any hop, the upstream one included', () => {
    expect(decide([hop({ expires_at: at(8 * HOUR) }), hop({ id: 'dlg_2', expires_at: null })])).toBe('a_hop_under_a_day');
    expect(decide([hop({ expires_at: at(48 * HOUR) }), hop({ id: 'dlg_2', expires_at: null })])).toBe('permit');
  });
  it('the soonest expiry of any hop and its remaining seconds; hops without an expiry are counted', () => {
    const { delegation_chain } = delegationContext(
      callFacts({ delegations: [hop({ expires_at: at(9 * HOUR) }), hop({ id: 'dlg_2', expires_at: at(3 * HOUR) }), hop({ id: 'dlg_3', expires_at: null })] }),
    );
    expect(delegation_chain).toEqual({
      hops: 3,
      purposes: ['invoicing'],
      without_purpose: 0,
      without_expiry: 1,
      shortest_window_seconds: 5 * 3600,
      soonest_expires_at: { __extn: { fn: 'datetime', arg: at(3 * HOUR) } },
      soonest_remaining_seconds: 3 * 3600,
    });
  });
});

describe('built only for a set that reads them', () => {
  it('a set that never names context.delegation(_chain) does not observe them, one that does (or `has`) does', () => {
    const plain = engine({ permit: PERMIT });
    expect(plain.observes('delegation')).toBe(false);
    expect(plain.observes('delegation_chain')).toBe(false);
    const reads = engine({ permit: PERMIT, has: 'forbid (principal, action, resource) when { context.delegation has purpose };' });
    expect(reads.observes('delegation')).toBe(true);
    expect(reads.observes('delegation_chain')).toBe(false);
    expect(engine({ permit: PERMIT, c: 'forbid (principal, action, resource) when { context.delegation_chain.hops > 2 };' }).observes('delegation_chain')).toBe(
      true,
    );
  });
  it('an unread set decides without them even when facts carry delegations (nothing reaches Cedar that nobody reads)', () => {
    const plain = engine({ permit: PERMIT });
    expect(plain.evaluate(callFacts({ delegations: [hop()] })).verdict).toBe('allow');
  });
  it('existing members are untouched: a set over the flat facts still validates and decides', () => {
    expect(
      engine({ permit: PERMIT, cap: 'forbid (principal, action, resource) when { context.amount > 100 };' }).evaluate(callFacts({ amount: 101 })).verdict,
    ).toBe('deny');
  });
});
