import { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';
import { PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

/** The starter set and 22 forbids more: the 39-policy set that, compiled ~230 times, once crashed V8. */
const THIRTY_NINE = {
  ...STARTER_POLICIES,
  ...Object.fromEntries(
    Array.from({ length: 39 - Object.keys(STARTER_POLICIES).length }, (_, i) => [
      `forbid-blocked-${i}`,
      `@reason("blocked_${i}") forbid (principal, action == Action::"call_tool", resource) when { context.server == "blocked-${i}" };`,
    ]),
  ),
};

const PERMIT_READS = { reads: 'permit (principal, action == Action::"call_tool", resource) when { context.action_category == "read" };' };
const PERMIT_NOTHING = { none: 'forbid (principal, action == Action::"call_tool", resource);' };

const READ: CallFacts = {
  agent_id: 'scheduler',
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
  reason_given: false,
  session_calls: 1,
  prior_denials: 0,
  prior_step_ups: 0,
  hour_of_day: 10,
  gateway_signals: [],
  time: timeFacts(new Date('2026-12-07T10:00:00Z'), 'UTC'),
  network: '',
  velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
};

function compile(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

describe('pre-parsed policy sets are released', () => {
  it('validating a set pre-parses nothing', () => {
    const before = PolicyEngine.preparsedSets();
    for (let i = 0; i < 20; i++) expect(PolicyEngine.validate(THIRTY_NINE)).toEqual([]);
    expect(PolicyEngine.validate({ bad: 'permit (principal, action, resource' })).not.toEqual([]);
    expect(PolicyEngine.preparsedSets()).toEqual(before);
  });

  it('250 compiles of a 39-policy set, each released, reuse one id: the sets held never exceed the engines alive', () => {
    const before = PolicyEngine.preparsedSets();
    for (let i = 0; i < 250; i++) {
      const engine = compile(THIRTY_NINE);
      expect(engine.evaluate(READ).verdict).toBe('allow');
      expect(PolicyEngine.preparsedSets().held).toBe(before.held + 1);
      engine.release();
    }
    expect(PolicyEngine.preparsedSets().held).toBe(before.held);
    expect(PolicyEngine.preparsedSets().ids).toBeLessThanOrEqual(before.ids + 1);
  });

  it('an engine released while a request still holds it decides as before, never with the set that took its id', () => {
    const reads = compile(PERMIT_READS);
    reads.release();
    const nothing = compile(PERMIT_NOTHING); // gets the id `reads` gave back
    expect(nothing.evaluate(READ).verdict).toBe('deny');
    expect(reads.evaluate(READ).verdict).toBe('allow');
    expect(nothing.evaluate(READ).verdict).toBe('deny');
    reads.release();
    nothing.release();
    reads.release(); // twice is harmless
    expect(reads.evaluate(READ).verdict).toBe('allow');
    reads.release();
  });
});
