import fc from 'fast-check';
import { CallFacts } from './cedar-schema';
import { PolicyDecision, PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

function compile(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const starter = compile(STARTER_POLICIES);

const base: CallFacts = {
  agent_id: 'spiffe://acme.example/agents/scheduler',
  agent_class: 'scheduling',
  trust_level: 'first_party_certified',
  human: 'alice',
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
  reason_given: true,
  session_calls: 1,
  prior_denials: 0,
  prior_step_ups: 0,
  hour_of_day: 12,
  gateway_signals: [],
};
const pay = (amount: number | null): Partial<CallFacts> => ({ server: 'payments', tool: 'transfer_funds', intent_category: 'pay', action_category: 'pay', amount });

const cases: [string, Partial<CallFacts>, PolicyDecision['verdict'], string[]][] = [
  ['a scheduling agent may read the calendars it was delegated', {}, 'allow', ['granted_read']],
  ['exporting all executive calendars to an external endpoint is denied although calendar access is granted',
    { tool: 'export_calendars', intent_category: 'export', action_category: 'export', bulk: true, external_destination: true }, 'deny', ['bulk_external_export']],
  ['an internal export with a reason needs the delegator', { tool: 'export_calendars', intent_category: 'export', action_category: 'export' }, 'allow_with_obligations', ['export']],
  ['an export without a stated reason is denied', { tool: 'export_calendars', intent_category: 'export', action_category: 'export', reason_given: false }, 'deny', ['reason_required']],
  ['a payment below the threshold runs without review', pay(9_999), 'allow', ['payment_below_threshold']],
  ['a payment at the threshold needs approval', pay(10_000), 'allow_with_obligations', ['payment_above_threshold']],
  ['a payment without an amount needs approval', pay(null), 'allow_with_obligations', ['payment_above_threshold']],
  ['a third-party agent on confidential data is denied', { trust_level: 'third_party', resource_classification: 'confidential' }, 'deny', ['untrusted_agent_sensitive_data']],
  ['an agent of unknown provenance on PII is denied', { trust_level: 'unknown', resource_classification: 'pii' }, 'deny', ['untrusted_agent_sensitive_data']],
  ['a certified first-party agent may read confidential data', { resource_classification: 'confidential' }, 'allow', ['granted_read']],
  ['a third-party agent may read internal data', { trust_level: 'third_party' }, 'allow', ['granted_read']],
  ['"summarize" that turns out to be an export is denied', { intent_category: 'summarize', action_category: 'export', tool: 'export_calendars' }, 'deny', ['intent_mismatch']],
  ['an agent never granted delete_order cannot delete, whatever its user holds', { granted: false, action_category: 'delete', tool: 'delete_order', intent_category: 'delete' }, 'deny', ['not_delegated']],
  ['a delete in production needs approval', { action_category: 'delete', intent_category: 'delete', tool: 'delete_order' }, 'allow_with_obligations', ['production_delete']],
  ['a delete in staging runs', { action_category: 'delete', intent_category: 'delete', tool: 'delete_order', environment: 'staging' }, 'allow', ['delete_outside_production']],
  ['an admin action needs two approvers', { action_category: 'admin', intent_category: 'admin', tool: 'grant_role' }, 'allow_with_obligations', ['admin_action']],
  ['a hundred and one calls in a session step a write up', { action_category: 'write', intent_category: 'write', session_calls: 101 }, 'allow_with_obligations', ['high_velocity', 'granted_write']],
  ['three prior denials step a read up', { prior_denials: 3 }, 'allow_with_obligations', ['high_velocity']],
  ['a new device steps a write up but not a read', { action_category: 'write', intent_category: 'write', gateway_signals: ['new_device'] }, 'allow_with_obligations', ['new_device']],
  ['a new device alone does not step up a read', { gateway_signals: ['new_device'] }, 'allow', ['granted_read']],
  ['malware suspected by the gateway denies even a read', { gateway_signals: ['malware_suspected'] }, 'deny', ['gateway_signal_blocked']],
  ['a step-up never permits on its own: an ungranted call in a noisy session is denied', { granted: false, session_calls: 500 }, 'deny', ['not_delegated']],
  ['a forbid beats every permit', { trust_level: 'third_party', resource_classification: 'restricted', session_calls: 500 }, 'deny', ['untrusted_agent_sensitive_data']],
  ['a sensitive read is allowed with a sampled review', { resource_classification: 'confidential' }, 'allow', ['sensitive_read_sampled']],
];

describe('the starter policy set', () => {
  it.each(cases)('%s', (_name, patch, verdict, reasons) => {
    const decision = starter.evaluate({ ...base, ...patch });
    expect(decision.verdict).toBe(verdict);
    expect(decision.reasons).toEqual(expect.arrayContaining(reasons));
  });

  it('a large payment asks the delegator or finance, one approval, with a reason required', () => {
    const d = starter.evaluate({ ...base, ...pay(250_000) });
    expect(d.obligations).toContainEqual(
      expect.objectContaining({ type: 'human_approval', approvers: ['delegator', 'group:finance'], quorum: 1, expires_in: 900, reason_required: true }),
    );
  });

  it('a sensitive read carries a 10 % sampled review', () => {
    expect(starter.evaluate({ ...base, resource_classification: 'pii' }).obligations).toContainEqual({ type: 'sampled_review', rate: 0.1 });
  });

  it('denies by default: random tools that nothing grants are always denied', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom('read', 'write', 'admin', 'pay', 'export', 'delete'), fc.nat(1000), (tool, category, calls) => {
        const d = starter.evaluate({ ...base, tool, action_category: category, granted: false, session_calls: calls });
        expect(d.verdict).toBe('deny');
      }),
      { numRuns: 300 },
    );
  });

  it('any facts at all give one of the three verdicts and never throw', () => {
    fc.assert(
      fc.property(
        fc.record({
          trust_level: fc.string(), granted: fc.boolean(), intent_category: fc.string(), action_category: fc.string(),
          resource_classification: fc.string(), amount: fc.option(fc.integer()), session_calls: fc.nat(), gateway_signals: fc.array(fc.string()),
          external_destination: fc.boolean(), bulk: fc.boolean(), reason_given: fc.boolean(),
        }),
        (patch) => {
          expect(['allow', 'deny', 'allow_with_obligations']).toContain(starter.evaluate({ ...base, ...patch }).verdict);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('compiling a policy set', () => {
  const permit = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

  it('returns the validator message, naming the policy, for an attribute the schema does not have', () => {
    const r = PolicyEngine.compile({ bad: 'permit (principal, action == Action::"call_tool", resource) when { context.no_such_thing };' });
    expect('errors' in r && r.errors.join(' ')).toMatch(/bad/);
  });

  it('returns a parse error rather than throwing', () => {
    const r = PolicyEngine.compile({ broken: 'permit (principal, action, resource' });
    expect('errors' in r && r.errors[0]).toMatch(/^broken: /);
  });

  it('refuses two policies under one id', () => {
    expect(PolicyEngine.compile({ two: `${permit}\n${permit}` })).toEqual({ errors: ['two: must contain exactly one static policy (found 2)'] });
  });

  it.each([
    ['a non-numeric quorum', `@obligation("human_approval") @approvers("delegator") @quorum("x") ${permit}`, /@quorum/],
    ['an obligation on a forbid', `@obligation("human_approval") @approvers("delegator") forbid (principal, action, resource);`, /belongs on a permit/],
    ['an approval without approvers', `@obligation("human_approval") ${permit}`, /needs @approvers/],
  ])('refuses %s', (_n, text, message) => {
    const r = PolicyEngine.compile({ p: text });
    expect('errors' in r && r.errors.join(' ')).toMatch(message);
  });

  it('merges two approval obligations: union of approvers, highest quorum, shortest expiry', () => {
    const engine = compile({
      a: `@obligation("human_approval") @approvers("delegator") @quorum("1") @expires_in("600") ${permit}`,
      b: `@obligation("human_approval") @approvers("group:finance,delegator") @quorum("2") @expires_in("300") ${permit}`,
    });
    expect(engine.evaluate(base).obligations).toEqual([
      expect.objectContaining({ type: 'human_approval', approvers: ['delegator', 'group:finance'], quorum: 2, expires_in: 300 }),
    ]);
  });

  it('denies by default when no permit matches', () => {
    const engine = compile({ never: 'permit (principal, action == Action::"call_tool", resource) when { context.environment == "nowhere" };' });
    expect(engine.evaluate(base)).toMatchObject({ verdict: 'deny', reasons: ['no_permit'] });
  });

  it('fails closed: a forbid whose condition errors denies instead of being skipped', () => {
    const engine = compile({
      allow: permit,
      overflow: '@reason("too_big") forbid (principal, action == Action::"call_tool", resource) when { context.session_calls * 9223372036854775807 > 0 };',
    });
    const d = engine.evaluate({ ...base, session_calls: 2 });
    expect(d.verdict).toBe('deny');
    expect(d.reasons).toContain('policy_error');
  });
});
