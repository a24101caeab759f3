import { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';
import { HumanApprovalObligation, PolicyDecision, PolicyEngine, Verdict } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

function compile(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

function compileErrors(policies: Record<string, string>): string[] {
  const r = PolicyEngine.compile(policies);
  if (!('errors' in r)) throw new Error('expected the policy set to be refused');
  return r.errors;
}

const starter = compile(STARTER_POLICIES);

/** A certified first-party scheduling agent, granted, reading an internal calendar in production. */
const BASELINE: CallFacts = {
  agent_id: 'spiffe://acme.example/agents/scheduler',
  agent_class: 'scheduling',
  trust_level: 'first_party_certified',
  human: 'alice@acme.example',
  chain_length: 1,
  granted: true,
  intent_category: 'read',
  action_category: 'read',
  server: 'calendar',
  tool: 'list_events',
  resource_id: 'cal-alice',
  resource_type: 'calendar',
  resource_classification: 'internal',
  environment: 'production',
  amount: null,
  external_destination: false,
  bulk: false,
  reason_given: false,
  session_calls: 3,
  prior_denials: 0,
  prior_step_ups: 0,
  hour_of_day: 10,
  gateway_signals: [],
  time: timeFacts(new Date('2026-12-07T10:00:00Z'), 'UTC'),
  network: '',
  velocity: { last_60s: 1, last_300s: 3, last_3600s: 3 },
};

// Fact fragments the rows combine.
/** n calls of this session in the last 5 minutes (the starter set's velocity window) and in its session window. */
const calls = (n: number): Partial<CallFacts> => ({ session_calls: n, velocity: { last_60s: 1, last_300s: n, last_3600s: n } });
/** One actor upstream of the current one, of the given trust. */
const upstream = (trust_level: string): Partial<CallFacts> => ({
  chain_length: 2,
  upstream: [{ id: 'spiffe://acme.example/agents/orchestrator', agent_class: 'orchestration', trust_level, operator: '' }],
});
const exportCalendars: Partial<CallFacts> = { tool: 'export_calendars', intent_category: 'export', action_category: 'export' };
const payment = (amount: number | null): Partial<CallFacts> => ({
  server: 'payments',
  tool: 'transfer_funds',
  resource_type: 'account',
  resource_id: 'acct-1',
  intent_category: 'pay',
  action_category: 'pay',
  amount,
});
const deleteOrder: Partial<CallFacts> = {
  server: 'orders',
  tool: 'delete_order',
  resource_id: 'order-42',
  intent_category: 'delete',
  action_category: 'delete',
};
const write: Partial<CallFacts> = { tool: 'create_event', intent_category: 'write', action_category: 'write' };
const admin: Partial<CallFacts> = { server: 'iam', tool: 'grant_role', intent_category: 'admin', action_category: 'admin' };

const FINANCE_APPROVAL: Partial<HumanApprovalObligation> = {
  approvers: ['delegator', 'group:finance'],
  quorum: 1,
  expires_in: 900,
  reason_required: true,
  binding_message: 'Payment at or above the approval threshold',
};

interface Scenario {
  name: string;
  facts: Partial<CallFacts>;
  verdict: Verdict;
  /** Every one of these must be among the decision's reasons. */
  reasons: string[];
  /** None of these may be among the reasons. */
  notReasons?: string[];
  /** The human-approval obligation's expected fields, or 'none' when there must be none. */
  approval?: Partial<HumanApprovalObligation> | 'none';
  /** The sampled-review rate, or 'none'. */
  sampledReview?: number | 'none';
}

const scenarios: Scenario[] = [
  // The scheduling agent (DESIGN.md: calendars).
  {
    name: 'a scheduling agent may read the calendars of the people it schedules for',
    facts: {},
    verdict: 'allow',
    reasons: ['granted_read'],
    approval: 'none',
    sampledReview: 'none',
  },
  {
    name: 'a scheduling agent may search calendars',
    facts: { tool: 'find_slots', intent_category: 'search', action_category: 'search' },
    verdict: 'allow',
    reasons: ['granted_read'],
    approval: 'none',
  },
  {
    name: 'a scheduling agent may summarize a calendar it was asked to summarize',
    facts: { tool: 'summarize_week', intent_category: 'summarize', action_category: 'summarize' },
    verdict: 'allow',
    reasons: ['granted_read'],
  },
  { name: 'a scheduling agent may create an event it was granted', facts: write, verdict: 'allow', reasons: ['granted_write'], approval: 'none' },
  {
    name: 'exporting all executive calendars to an external endpoint is denied even though the agent is granted',
    facts: { ...exportCalendars, external_destination: true, bulk: true, reason_given: true, resource_id: 'cal-executives' },
    verdict: 'deny',
    reasons: ['bulk_external_export'],
    notReasons: ['export'],
  },
  {
    name: 'a bulk external export without a reason is denied for both reasons',
    facts: { ...exportCalendars, external_destination: true, bulk: true },
    verdict: 'deny',
    reasons: ['bulk_external_export', 'reason_required'],
  },
  {
    name: 'exporting even one confidential calendar to an external endpoint is denied',
    facts: { ...exportCalendars, external_destination: true, resource_classification: 'confidential', reason_given: true },
    verdict: 'deny',
    reasons: ['bulk_external_export'],
  },
  {
    name: 'exporting one internal calendar externally with a reason needs the delegator to approve',
    facts: { ...exportCalendars, external_destination: true, reason_given: true },
    verdict: 'allow_with_obligations',
    reasons: ['export'],
    approval: { approvers: ['delegator'], quorum: 1, reason_required: false, binding_message: 'Export data' },
  },
  {
    name: 'a bulk export to an internal destination with a reason needs approval rather than a denial',
    facts: { ...exportCalendars, bulk: true, reason_given: true },
    verdict: 'allow_with_obligations',
    reasons: ['export'],
    notReasons: ['bulk_external_export'],
    approval: { approvers: ['delegator'] },
  },
  { name: 'an export without a stated reason is denied', facts: exportCalendars, verdict: 'deny', reasons: ['reason_required'] },

  // Intent against action.
  {
    name: 'an agent that said "summarize" but calls an export is denied',
    facts: { ...exportCalendars, intent_category: 'summarize', reason_given: true },
    verdict: 'deny',
    reasons: ['intent_mismatch'],
    notReasons: ['export'],
  },
  {
    name: 'an agent that said "read" but calls a delete is denied',
    facts: { ...deleteOrder, intent_category: 'read', environment: 'staging' },
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'an agent that said "search" but calls a payment is denied',
    facts: { ...payment(5), intent_category: 'search' },
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'an agent that said "read" but calls an admin tool is denied',
    facts: { ...admin, intent_category: 'read', reason_given: true },
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  { name: 'an unknown intent with a read action is allowed', facts: { intent_category: 'unknown' }, verdict: 'allow', reasons: ['granted_read'] },
  {
    name: 'an unknown intent with an export and a reason goes to approval, not to an intent mismatch',
    facts: { ...exportCalendars, intent_category: 'unknown', reason_given: true },
    verdict: 'allow_with_obligations',
    reasons: ['export'],
    notReasons: ['intent_mismatch'],
  },
  { name: 'a read is never an intent mismatch, whatever the stated intent', facts: { intent_category: 'export' }, verdict: 'allow', reasons: ['granted_read'] },
  {
    name: 'a stated delete that is a delete in staging runs',
    facts: { ...deleteOrder, environment: 'staging' },
    verdict: 'allow',
    reasons: ['delete_outside_production'],
  },

  // The payment agent (DESIGN.md: threshold).
  { name: 'a payment of 9,999 runs without review', facts: payment(9_999), verdict: 'allow', reasons: ['payment_below_threshold'], approval: 'none' },
  { name: 'a payment of zero runs without review', facts: payment(0), verdict: 'allow', reasons: ['payment_below_threshold'], approval: 'none' },
  {
    name: 'a payment of exactly 10,000 needs the delegator or finance, one approval, with a reason',
    facts: payment(10_000),
    verdict: 'allow_with_obligations',
    reasons: ['payment_above_threshold'],
    notReasons: ['payment_below_threshold'],
    approval: FINANCE_APPROVAL,
  },
  {
    name: 'a payment of 250,000 needs the delegator or finance, one approval, with a reason',
    facts: payment(250_000),
    verdict: 'allow_with_obligations',
    reasons: ['payment_above_threshold'],
    approval: FINANCE_APPROVAL,
  },
  {
    name: 'a payment whose amount cannot be read needs approval',
    facts: payment(null),
    verdict: 'allow_with_obligations',
    reasons: ['payment_above_threshold'],
    approval: FINANCE_APPROVAL,
  },
  {
    name: 'a small payment by an agent never granted the payment tool is denied',
    facts: { ...payment(9_999), granted: false },
    verdict: 'deny',
    reasons: ['not_delegated'],
    notReasons: ['payment_below_threshold'],
  },
  {
    name: 'a large payment by an agent never granted the payment tool is denied, not sent to approval',
    facts: { ...payment(250_000), granted: false },
    verdict: 'deny',
    reasons: ['not_delegated'],
  },
  {
    name: 'a small payment in a session of 101 calls is stepped up to the delegator',
    facts: { ...payment(50), ...calls(101) },
    verdict: 'allow_with_obligations',
    reasons: ['payment_below_threshold', 'high_velocity'],
    approval: { approvers: ['delegator'], quorum: 1, reason_required: false, binding_message: 'Unusual activity in this session' },
  },
  {
    name: 'a large payment in a noisy session from a new device keeps the finance approval and its message',
    facts: { ...payment(250_000), ...calls(500), gateway_signals: ['new_device'] },
    verdict: 'allow_with_obligations',
    reasons: ['payment_above_threshold', 'high_velocity', 'new_device'],
    approval: FINANCE_APPROVAL,
  },
  {
    name: 'a small payment from a new device needs the delegator',
    facts: { ...payment(50), gateway_signals: ['new_device'] },
    verdict: 'allow_with_obligations',
    reasons: ['payment_below_threshold', 'new_device'],
    approval: { approvers: ['delegator'] },
  },

  // Trust and classification (DESIGN.md: third party).
  {
    name: 'a third-party agent reading confidential data is denied',
    facts: { trust_level: 'third_party', resource_classification: 'confidential' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'an agent of unknown provenance reading restricted data is denied',
    facts: { trust_level: 'unknown', resource_classification: 'restricted' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'a certified agent with a third-party actor upstream reading confidential data is denied (trust over the whole chain)',
    facts: { ...upstream('third_party'), resource_classification: 'confidential' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
    notReasons: ['granted_read'],
  },
  {
    name: 'an upstream actor whose act claim states no trust is not counted (nested act claims rarely carry it): a certified agent reads PII, sampled',
    facts: { ...upstream('unknown'), resource_classification: 'pii' },
    verdict: 'allow',
    reasons: ['granted_read', 'sensitive_read_sampled'],
    notReasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'a certified agent behind a first-party orchestrator reads confidential data, sampled',
    facts: { ...upstream('first_party_certified'), resource_classification: 'confidential' },
    verdict: 'allow',
    reasons: ['granted_read', 'sensitive_read_sampled'],
    sampledReview: 0.1,
  },
  {
    name: 'a third-party actor upstream on internal data changes nothing',
    facts: upstream('third_party'),
    verdict: 'allow',
    reasons: ['granted_read'],
    notReasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'an agent of unknown provenance reading personal data is denied',
    facts: { trust_level: 'unknown', resource_classification: 'pii' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'a third-party agent writing confidential data is denied',
    facts: { ...write, trust_level: 'third_party', resource_classification: 'confidential' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
  },
  {
    name: 'a certified first-party agent may read the confidential data a third party may not',
    facts: { resource_classification: 'confidential' },
    verdict: 'allow',
    reasons: ['granted_read', 'sensitive_read_sampled'],
    sampledReview: 0.1,
  },
  { name: 'a third-party agent may read internal data', facts: { trust_level: 'third_party' }, verdict: 'allow', reasons: ['granted_read'] },
  {
    name: 'an agent of unknown provenance may read public data',
    facts: { trust_level: 'unknown', resource_classification: 'public' },
    verdict: 'allow',
    reasons: ['granted_read'],
  },

  // Delegation (DESIGN.md: delete_order).
  {
    name: 'a user may hold delete_order, but the agent never granted it is denied even in staging',
    facts: { ...deleteOrder, granted: false, environment: 'staging' },
    verdict: 'deny',
    reasons: ['not_delegated'],
    notReasons: ['delete_outside_production'],
  },
  { name: 'an ungranted read is denied', facts: { granted: false }, verdict: 'deny', reasons: ['not_delegated'] },

  // Deletes and admin.
  {
    name: 'a delete in production needs the delegator',
    facts: deleteOrder,
    verdict: 'allow_with_obligations',
    reasons: ['production_delete'],
    approval: { approvers: ['delegator'], quorum: 1, reason_required: false, binding_message: 'Delete in production' },
  },
  {
    name: 'a delete in staging runs without review',
    facts: { ...deleteOrder, environment: 'staging' },
    verdict: 'allow',
    reasons: ['delete_outside_production'],
    approval: 'none',
  },
  {
    name: 'a delete in development runs without review',
    facts: { ...deleteOrder, environment: 'development' },
    verdict: 'allow',
    reasons: ['delete_outside_production'],
  },
  {
    name: 'an admin action with a reason needs two approvals from the delegator or security',
    facts: { ...admin, reason_given: true },
    verdict: 'allow_with_obligations',
    reasons: ['admin_action'],
    approval: { approvers: ['delegator', 'group:security'], quorum: 2, reason_required: false },
  },
  { name: 'an admin action without a reason is denied', facts: admin, verdict: 'deny', reasons: ['reason_required'], notReasons: ['admin_action'] },

  // Velocity step-ups.
  {
    name: 'a write in a session of 101 calls is stepped up to the delegator',
    facts: { ...write, ...calls(101) },
    verdict: 'allow_with_obligations',
    reasons: ['granted_write', 'high_velocity'],
    approval: { approvers: ['delegator'], quorum: 1 },
  },
  {
    name: 'a write after three denials in the session is stepped up',
    facts: { ...write, prior_denials: 3 },
    verdict: 'allow_with_obligations',
    reasons: ['granted_write', 'high_velocity'],
  },
  {
    name: 'velocity is the last 5 minutes, whatever SESSION_WINDOW_SECONDS counts: 500 calls in a longer session window but 3 in 5 minutes is not stepped up',
    facts: { ...write, session_calls: 500, velocity: { last_60s: 1, last_300s: 3, last_3600s: 500 } },
    verdict: 'allow',
    reasons: ['granted_write'],
    notReasons: ['high_velocity'],
    approval: 'none',
  },
  {
    name: 'a write at 100 calls and two denials is not stepped up',
    facts: { ...write, ...calls(100), prior_denials: 2 },
    verdict: 'allow',
    reasons: ['granted_write'],
    notReasons: ['high_velocity'],
    approval: 'none',
  },
  { name: 'high velocity steps up even a read', facts: { prior_denials: 3 }, verdict: 'allow_with_obligations', reasons: ['granted_read', 'high_velocity'] },
  {
    name: 'a step-up alone never permits: an action nothing permits in a noisy session is denied',
    facts: { action_category: 'unknown', intent_category: 'unknown', ...calls(101), prior_denials: 3 },
    verdict: 'deny',
    reasons: ['no_permit'],
    notReasons: ['high_velocity'],
    approval: 'none',
  },
  {
    name: 'a step-up alone never permits: an ungranted call in a noisy session is denied',
    facts: { ...write, granted: false, ...calls(500) },
    verdict: 'deny',
    reasons: ['not_delegated'],
    notReasons: ['high_velocity'],
  },

  // Gateway signals.
  {
    name: 'a write from a new device needs the delegator',
    facts: { ...write, gateway_signals: ['new_device'] },
    verdict: 'allow_with_obligations',
    reasons: ['granted_write', 'new_device'],
    approval: { approvers: ['delegator'], quorum: 1 },
  },
  {
    name: 'a read from a new device is allowed',
    facts: { gateway_signals: ['new_device'] },
    verdict: 'allow',
    reasons: ['granted_read'],
    notReasons: ['new_device'],
    approval: 'none',
  },
  {
    name: 'a search from a new device is allowed',
    facts: { action_category: 'search', intent_category: 'search', gateway_signals: ['new_device'] },
    verdict: 'allow',
    reasons: ['granted_read'],
  },
  {
    name: 'a production delete from a new device still asks only the delegator',
    facts: { ...deleteOrder, gateway_signals: ['new_device'] },
    verdict: 'allow_with_obligations',
    reasons: ['production_delete', 'new_device'],
    approval: { approvers: ['delegator'], quorum: 1 },
  },
  {
    name: 'suspected malware denies even a read',
    facts: { gateway_signals: ['malware_suspected'] },
    verdict: 'deny',
    reasons: ['gateway_signal_blocked'],
    notReasons: ['granted_read'],
  },
  {
    name: 'a credential leak denies a write',
    facts: { ...write, gateway_signals: ['new_device', 'credential_leak'] },
    verdict: 'deny',
    reasons: ['gateway_signal_blocked'],
  },
  {
    name: 'suspected malware denies a small payment',
    facts: { ...payment(10), gateway_signals: ['malware_suspected'] },
    verdict: 'deny',
    reasons: ['gateway_signal_blocked'],
  },
  { name: 'a signal no policy knows changes nothing', facts: { gateway_signals: ['tor_exit_node'] }, verdict: 'allow', reasons: ['granted_read'] },

  // Sampled review.
  {
    name: 'a read of personal data is allowed with a 10 % sampled review',
    facts: { resource_classification: 'pii' },
    verdict: 'allow',
    reasons: ['sensitive_read_sampled'],
    approval: 'none',
    sampledReview: 0.1,
  },
  {
    name: 'a read of restricted data is allowed with a 10 % sampled review',
    facts: { resource_classification: 'restricted' },
    verdict: 'allow',
    reasons: ['sensitive_read_sampled'],
    sampledReview: 0.1,
  },
  {
    name: 'a search of confidential data is not sampled',
    facts: { resource_classification: 'confidential', action_category: 'search', intent_category: 'search' },
    verdict: 'allow',
    reasons: ['granted_read'],
    sampledReview: 'none',
  },
  {
    name: 'a write of confidential data is not sampled',
    facts: { ...write, resource_classification: 'confidential' },
    verdict: 'allow',
    reasons: ['granted_write'],
    sampledReview: 'none',
  },
  { name: 'a read of internal data is not sampled', facts: {}, verdict: 'allow', reasons: ['granted_read'], sampledReview: 'none' },
  {
    name: 'a sensitive read in a noisy session carries both the approval and the sampled review',
    facts: { resource_classification: 'pii', ...calls(200) },
    verdict: 'allow_with_obligations',
    reasons: ['granted_read', 'high_velocity', 'sensitive_read_sampled'],
    approval: { approvers: ['delegator'] },
    sampledReview: 0.1,
  },

  // A forbid beats any permit.
  {
    name: 'a forbid beats the permit that would have granted the read',
    facts: { trust_level: 'third_party', resource_classification: 'restricted' },
    verdict: 'deny',
    reasons: ['untrusted_agent_sensitive_data'],
    notReasons: ['granted_read', 'sensitive_read_sampled'],
  },
  {
    name: 'a forbid beats an approval permit: a mismatched intent on a production delete is denied, not sent to approval',
    facts: { ...deleteOrder, intent_category: 'summarize' },
    verdict: 'deny',
    reasons: ['intent_mismatch'],
    notReasons: ['production_delete'],
  },
  {
    name: 'several forbids are all named',
    facts: { granted: false, trust_level: 'unknown', resource_classification: 'pii', gateway_signals: ['malware_suspected'] },
    verdict: 'deny',
    reasons: ['not_delegated', 'untrusted_agent_sensitive_data', 'gateway_signal_blocked'],
  },
];

function approvalOf(d: PolicyDecision): HumanApprovalObligation | undefined {
  return d.obligations.find((o): o is HumanApprovalObligation => o.type === 'human_approval');
}

describe('the starter policy set, scenario by scenario', () => {
  it('has at least 45 scenarios with distinct names', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(45);
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
  });

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const decision = starter.evaluate({ ...BASELINE, ...s.facts });

    expect(decision.verdict).toBe(s.verdict);
    expect(decision.reasons).toEqual(expect.arrayContaining(s.reasons));
    for (const r of s.notReasons ?? []) expect(decision.reasons).not.toContain(r);

    // Invariants of every decision.
    const approval = approvalOf(decision);
    expect(decision.verdict === 'allow_with_obligations').toBe(approval !== undefined);
    if (decision.verdict === 'deny') expect(decision.obligations).toEqual([]);
    else expect(decision.determining_policies.length).toBeGreaterThan(0);

    if (s.approval === 'none') expect(approval).toBeUndefined();
    else if (s.approval) expect(approval).toMatchObject({ type: 'human_approval', ...s.approval });

    const sampled = decision.obligations.find((o) => o.type === 'sampled_review');
    if (s.sampledReview === 'none') expect(sampled).toBeUndefined();
    else if (s.sampledReview !== undefined) expect(sampled).toEqual({ type: 'sampled_review', rate: s.sampledReview, reviewers: ['delegator'] });
  });

  it('gives the same decision, in the same order, every time for the same facts', () => {
    const facts: CallFacts = { ...BASELINE, ...payment(250_000), ...calls(500), gateway_signals: ['new_device'] };
    const first = starter.evaluate(facts);
    for (let i = 0; i < 50; i++) expect(starter.evaluate(facts)).toEqual(first);
    expect(first.determining_policies).toEqual([...first.determining_policies].sort());
  });

  it('names the determining policies by id and the reasons by their @reason', () => {
    const d = starter.evaluate({ ...BASELINE, ...deleteOrder });
    expect(d.determining_policies).toEqual(['approve-production-deletes']);
    expect(d.reasons).toEqual(['production_delete']);
  });

  it('denies a call whose facts Cedar cannot take (a fractional amount) instead of throwing', () => {
    expect(starter.evaluate({ ...BASELINE, ...payment(9_999.5) })).toMatchObject({ verdict: 'deny', obligations: [] });
  });
});

describe('compiling a policy set', () => {
  const permitAll = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

  it('compiles the starter set without errors', () => {
    expect(PolicyEngine.compile(STARTER_POLICIES)).toHaveProperty('engine');
  });

  it('returns an error naming the policy, rather than throwing, for a context attribute the schema does not define', () => {
    const errors = compileErrors({
      fine: permitAll,
      'uses-missing-attribute': 'permit (principal, action == Action::"call_tool", resource) when { context.no_such_thing == "x" };',
    });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/uses-missing-attribute/);
    expect(errors.join('\n')).not.toMatch(/^fine:/m);
  });

  it('returns an error naming the policy for a comparison of the wrong type', () => {
    expect(
      compileErrors({ 'long-vs-string': 'permit (principal, action == Action::"call_tool", resource) when { context.amount == "ten" };' }).join('\n'),
    ).toMatch(/long-vs-string/);
  });

  it.each([
    ['an agent in a Group (agents are in agent classes only)', 'principal in Group::"hr"'],
    ['a member the context cannot have, after has', 'context has no_such_thing'],
    ['an is of a type the member never has', 'context.user is Agent'],
  ])('refuses a policy that can never apply, naming it: %s (a forbid that never applies is a hole)', (_, condition) => {
    const errors = compileErrors({ fine: permitAll, never: `forbid (principal, action == Action::"call_tool", resource) when { ${condition} };` });
    expect(errors).toEqual([expect.stringMatching(/^never: .*policy is impossible/)]);
  });

  it('returns an error naming the policy, rather than throwing, for a syntax error', () => {
    const errors = compileErrors({ broken: 'permit (principal, action, resource' });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.startsWith('broken: '))).toBe(true);
  });

  it('reports every broken policy of a set, each under its own id', () => {
    const errors = compileErrors({ first: 'permit (', second: 'forbid (principal, action, resource) when {' });
    expect(errors.some((e) => e.startsWith('first: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('second: '))).toBe(true);
  });

  it('refuses two policies under one id', () => {
    expect(compileErrors({ two: `${permitAll}\n${permitAll}` })).toEqual(['two: must contain exactly one static policy (found 2)']);
  });

  it('refuses an id that holds no policy at all', () => {
    expect(compileErrors({ empty: '// nothing here' })).toEqual(['empty: must contain exactly one static policy (found 0)']);
  });

  it.each([
    [
      'a quorum that is not a number',
      `@obligation("human_approval") @approvers("delegator") @quorum("x") ${permitAll}`,
      /p: @quorum must be a number from 1 to 99/,
    ],
    ['a quorum of zero', `@obligation("human_approval") @approvers("delegator") @quorum("0") ${permitAll}`, /@quorum/],
    ['a quorum of 100', `@obligation("human_approval") @approvers("delegator") @quorum("100") ${permitAll}`, /@quorum/],
    [
      'an obligation on a forbid',
      `@obligation("human_approval") @approvers("delegator") forbid (principal, action, resource);`,
      /p: @obligation belongs on a permit/,
    ],
    ['an approval without approvers', `@obligation("human_approval") ${permitAll}`, /p: @obligation\("human_approval"\) needs @approvers/],
    ['an approval with an empty approver list', `@obligation("human_approval") @approvers("") ${permitAll}`, /needs @approvers/],
    ['an obligation other than human approval', `@obligation("email_someone") @approvers("delegator") ${permitAll}`, /@obligation must be "human_approval"/],
    [
      'an approver that is neither the delegator, a user nor a group',
      `@obligation("human_approval") @approvers("delegator,bob") ${permitAll}`,
      /@approvers must list/,
    ],
    ['a negative expiry', `@obligation("human_approval") @approvers("delegator") @expires_in("-5") ${permitAll}`, /@expires_in/],
    ['a sampled review above 1', `@sampled_review("1.5") ${permitAll}`, /@sampled_review must be in \(0, 1\]/],
    ['a sampled review of 0', `@sampled_review("0") ${permitAll}`, /@sampled_review/],
    ['reviewers that are not references', `@sampled_review("0.1") @reviewers("security") ${permitAll}`, /p: @reviewers must list/],
    ['reviewers without a sampled review', `@reviewers("group:security") ${permitAll}`, /p: @reviewers goes with @sampled_review/],
    [
      'an escalation without targets',
      `@obligation("human_approval") @approvers("user:bob") @escalate_after("60") ${permitAll}`,
      /@escalate_after and @escalate_to go together/,
    ],
    ['escalation targets without a delay', `@obligation("human_approval") @approvers("user:bob") @escalate_to("group:cfo") ${permitAll}`, /go together/],
    [
      'an escalation delay that is not a number',
      `@obligation("human_approval") @approvers("user:bob") @escalate_after("soon") @escalate_to("group:cfo") ${permitAll}`,
      /@escalate_after must be a number of seconds/,
    ],
    [
      'an escalation target that is not a reference',
      `@obligation("human_approval") @approvers("user:bob") @escalate_after("60") @escalate_to("cfo") ${permitAll}`,
      /@escalate_to must list/,
    ],
    [
      'a reminder that is not a number',
      `@obligation("human_approval") @approvers("user:bob") @remind_after("-1") ${permitAll}`,
      /@remind_after must be a number of seconds/,
    ],
    [
      'independence that is not true or false',
      `@obligation("human_approval") @approvers("user:bob") @independent_approvers("yes") ${permitAll}`,
      /@independent_approvers must be "true" or "false"/,
    ],
    [
      'independent approvers that include the delegator',
      `@obligation("human_approval") @approvers("delegator,user:bob") @independent_approvers("true") ${permitAll}`,
      /excludes "delegator"/,
    ],
  ])('refuses %s', (_n, text, message) => {
    expect(compileErrors({ p: text }).join('\n')).toMatch(message);
  });

  it('accepts approvers naming the delegator, a user and a group with spaces after the commas', () => {
    expect(PolicyEngine.compile({ p: `@obligation("human_approval") @approvers("delegator, user:bob, group:ops") @quorum("3") ${permitAll}` })).toHaveProperty(
      'engine',
    );
  });
});

describe('evaluating a custom policy set', () => {
  const when = (cond: string) => `permit (principal, action == Action::"call_tool", resource) when { ${cond} };`;

  it('keeps two matching approval permits as two obligations, each with its own approvers, quorum, expiry and wording (conjunctive)', () => {
    const engine = compile({
      'b-security': `@reason("b") @obligation("human_approval") @approvers("group:security") @quorum("2") @expires_in("300") @binding_message("from b") ${when('context.granted')}`,
      'a-owner': `@reason("a") @obligation("human_approval") @approvers("delegator,group:finance") @quorum("1") @expires_in("600") @binding_message("from a") @reason_required("true") ${when('context.granted')}`,
    });
    const d = engine.evaluate(BASELINE);
    expect(d.verdict).toBe('allow_with_obligations');
    expect(d.reasons).toEqual(['a', 'b']);
    // Not one merged "2 of delegator, finance, security": two finance people must not stand in for security.
    expect(d.obligations).toEqual([
      {
        type: 'human_approval',
        approvers: ['delegator', 'group:finance'],
        quorum: 1,
        expires_in: 600,
        binding_message: 'from a',
        reason_required: true,
        independent_approvers: false,
      },
      {
        type: 'human_approval',
        approvers: ['group:security'],
        quorum: 2,
        expires_in: 300,
        binding_message: 'from b',
        reason_required: false,
        independent_approvers: false,
      },
    ]);
  });

  it('keeps escalation, reminders and separation of duties with the obligation that asked for them', () => {
    const engine = compile({
      a: `@obligation("human_approval") @approvers("group:finance") @escalate_after("600") @escalate_to("group:cfo") @remind_after("300") @independent_approvers("true") ${when('context.granted')}`,
      b: `@obligation("human_approval") @approvers("user:carol") @escalate_after("120") @escalate_to("user:dana") @remind_after("90") ${when('context.granted')}`,
    });
    const approvals = engine.evaluate(BASELINE).obligations;
    expect(approvals).toEqual([
      expect.objectContaining({
        approvers: ['group:finance'],
        escalate_after: 600,
        escalate_to: ['group:cfo'],
        remind_after: 300,
        independent_approvers: true,
      }),
      expect.objectContaining({ approvers: ['user:carol'], escalate_after: 120, escalate_to: ['user:dana'], remind_after: 90, independent_approvers: false }),
    ]);
  });

  it("lists the same control asked for by two policies once, with the stricter timers and either one's demand for a reason", () => {
    const engine = compile({
      a: `@obligation("human_approval") @approvers("group:finance,delegator") @quorum("2") @expires_in("600") @remind_after("300") ${when('context.granted')}`,
      b: `@obligation("human_approval") @approvers("delegator, group:finance") @quorum("2") @expires_in("120") @reason_required("true") @binding_message("from b") ${when('context.granted')}`,
    });
    expect(engine.evaluate(BASELINE).obligations).toEqual([
      {
        type: 'human_approval',
        approvers: ['delegator', 'group:finance'],
        quorum: 2,
        expires_in: 120,
        binding_message: 'from b',
        reason_required: true,
        remind_after: 300,
        independent_approvers: false,
      },
    ]);
  });

  it('carries @proof("passkey") on the obligation that asks for it, and on the merged control when either asks', () => {
    const engine = compile({
      a: `@obligation("human_approval") @approvers("group:finance") @proof("passkey") ${when('context.granted')}`,
      b: `@obligation("human_approval") @approvers("group:security") ${when('context.granted')}`,
      c: `@obligation("human_approval") @approvers("group:finance") ${when('context.granted')}`,
    });
    const obligations = engine.evaluate(BASELINE).obligations as HumanApprovalObligation[];
    expect(obligations.map((o) => [o.approvers[0], o.proof])).toEqual([
      ['group:finance', 'passkey'],
      ['group:security', undefined],
    ]);
  });

  it('refuses at publish a @proof other than "passkey", or one off an approval permit', () => {
    expect(compileErrors({ p: `@obligation("human_approval") @approvers("delegator") @proof("sms") ${when('context.granted')}` })).toEqual([
      'p: @proof must be "passkey"',
    ]);
    expect(compileErrors({ p: `@proof("passkey") ${when('context.granted')}` })).toEqual(['p: @proof belongs on an @obligation("human_approval") permit']);
  });

  it('keeps two permits naming the same approvers with different quorums apart', () => {
    const engine = compile({
      a: `@obligation("human_approval") @approvers("group:finance") @quorum("1") ${when('context.granted')}`,
      b: `@obligation("human_approval") @approvers("group:finance") @quorum("2") ${when('context.granted')}`,
    });
    expect(engine.evaluate(BASELINE).obligations.map((o) => o.type === 'human_approval' && o.quorum)).toEqual([1, 2]);
  });

  it('leaves out the expiry when no matching approval sets one', () => {
    const engine = compile({ p: `@obligation("human_approval") @approvers("delegator") ${when('true')}` });
    const approval = approvalOf(engine.evaluate(BASELINE));
    expect(approval).toEqual({ type: 'human_approval', approvers: ['delegator'], quorum: 1, reason_required: false, independent_approvers: false });
  });

  it('keeps the highest of two sampled-review rates', () => {
    const engine = compile({ a: `@sampled_review("0.1") ${when('true')}`, b: `@sampled_review("0.5") ${when('true')}` });
    expect(engine.evaluate(BASELINE)).toMatchObject({ verdict: 'allow', obligations: [{ type: 'sampled_review', rate: 0.5 }] });
  });

  it('names the reviewers of every sampling policy, the delegator for one that names none', () => {
    const engine = compile({ a: `@sampled_review("0.1") @reviewers("group:security") ${when('true')}`, b: `@sampled_review("0.2") ${when('true')}` });
    expect(engine.evaluate(BASELINE).obligations).toEqual([{ type: 'sampled_review', rate: 0.2, reviewers: ['delegator', 'group:security'] }]);
  });

  it('observes the history members only when a policy reads them', () => {
    expect(starter.observes('autonomy')).toBe(false);
    expect(starter.observes('agent_flags')).toBe(false);
    const flags = compile({ p: when('context.agent_flags.last_7d == 0') });
    expect([flags.observes('agent_flags'), flags.observes('autonomy')]).toEqual([true, false]);
    expect(compile({ p: `permit (principal, action, resource) unless { context.autonomy.consecutive_approvals >= 20 };` }).observes('autonomy')).toBe(true);
  });

  it('lets a policy drop the approval after 20 consecutive approvals and no denial in 30 days, outside production', () => {
    const engine = compile({
      ask: `@obligation("human_approval") @approvers("delegator") permit (principal, action, resource) when { context.granted }
            unless { context.autonomy.consecutive_approvals >= 20 && context.autonomy.days_since_last_denial >= 30 && context.environment != "production" };`,
      allow: when('context.granted'),
    });
    const autonomy = { consecutive_approvals: 20, approvals: 40, denials: 1, flags: 0, days_since_last_denial: 31, days_since_last_flag: 36500 };
    const verdict = (facts: Partial<CallFacts>) => engine.evaluate({ ...BASELINE, ...facts }).verdict;
    expect(verdict({ autonomy, environment: 'staging' })).toBe('allow');
    expect(verdict({ autonomy: { ...autonomy, consecutive_approvals: 19 }, environment: 'staging' })).toBe('allow_with_obligations');
    expect(verdict({ autonomy: { ...autonomy, days_since_last_denial: 29 }, environment: 'staging' })).toBe('allow_with_obligations');
    expect(verdict({ autonomy, environment: 'production' })).toBe('allow_with_obligations');
  });

  it('denies by default when the only permit never matches', () => {
    const engine = compile({ never: when('context.environment == "nowhere"') });
    expect(engine.evaluate(BASELINE)).toEqual({ verdict: 'deny', obligations: [], determining_policies: [], reasons: ['no_permit'] });
  });

  it('denies by default with an empty policy set', () => {
    expect(compile({}).evaluate(BASELINE)).toMatchObject({ verdict: 'deny', reasons: ['no_permit'] });
  });

  it('denies when only a step-up permit matches, instead of sending the call to approval', () => {
    const engine = compile({ 'step-up': `@step_up("true") @obligation("human_approval") @approvers("delegator") ${when('true')}` });
    expect(engine.evaluate(BASELINE)).toEqual({ verdict: 'deny', obligations: [], determining_policies: [], reasons: ['no_permit'] });
  });

  it('uses the policy id as the reason of a policy without @reason', () => {
    const engine = compile({ 'plain-forbid': 'forbid (principal, action == Action::"call_tool", resource);', allow: when('true') });
    expect(engine.evaluate(BASELINE)).toMatchObject({ verdict: 'deny', reasons: ['plain-forbid'] });
  });

  it('fails closed: a forbid whose condition errors denies instead of being skipped', () => {
    const engine = compile({
      allow: when('context.granted'),
      overflow: '@reason("too_big") forbid (principal, action == Action::"call_tool", resource) when { context.session_calls * 9223372036854775807 > 0 };',
    });
    const d = engine.evaluate({ ...BASELINE, session_calls: 2 });
    expect(d.verdict).toBe('deny');
    expect(d.reasons).toEqual(['policy_error', 'policy_error:overflow']);
  });

  it('sees the resource as Tool "server/tool" in the policy scope', () => {
    const engine = compile({ p: 'permit (principal, action == Action::"call_tool", resource == Tool::"calendar/list_events");' });
    expect(engine.evaluate(BASELINE).verdict).toBe('allow');
    expect(engine.evaluate({ ...BASELINE, tool: 'delete_events' }).verdict).toBe('deny');
  });
});

describe('starter set edge cases found in review', () => {
  const r = PolicyEngine.compile(STARTER_POLICIES);
  const engine = 'engine' in r ? r.engine : undefined;
  const facts = (amount: number | null): CallFacts => ({
    agent_id: 'pay-agent',
    agent_class: 'payments',
    trust_level: 'first_party_certified',
    human: 'alice',
    chain_length: 1,
    granted: true,
    intent_category: 'pay',
    action_category: 'pay',
    server: 'payments',
    tool: 'transfer_funds',
    resource_id: '',
    resource_type: '',
    resource_classification: 'internal',
    environment: 'production',
    amount,
    external_destination: false,
    bulk: false,
    reason_given: true,
    session_calls: 1,
    prior_denials: 0,
    prior_step_ups: 0,
    hour_of_day: 12,
    gateway_signals: [],
    time: timeFacts(new Date('2026-12-07T12:00:00Z'), 'UTC'),
    network: '',
    velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
  });

  it('a negative payment is not "below the threshold": it needs approval', () => {
    expect(engine!.evaluate(facts(-1_000_000_000)).verdict).toBe('allow_with_obligations');
  });

  it('refuses at publish a quorum larger than the named approvers', () => {
    const c = PolicyEngine.compile({
      q: '@obligation("human_approval") @approvers("delegator") @quorum("3") permit (principal, action == Action::"call_tool", resource) when { context.granted };',
    });
    expect('errors' in c && c.errors.join(' ')).toMatch(/@quorum\(3\) is more than the 1 approver/);
  });
});
