/** "The human must hold this permission themselves", written as a policy over context.human_entitlement. */
import { callFacts } from './call-facts.fixture';
import { PolicyEngine } from './policy-engine';
import type { CallFacts } from './cedar-schema';

function engine(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const PERMIT = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

describe('context.human_entitlement', () => {
  const e = engine({
    permit: PERMIT,
    own: `@reason("human_must_hold_it")
forbid (principal, action == Action::"call_tool", resource) when { context.action_category == "delete" }
unless { context.human_entitlement.recorded && context.human_entitlement.covers_call };`,
    wide: `@reason("human_holds_everything")
forbid (principal, action == Action::"call_tool", resource) when { context.human_entitlement.tools.contains("*") };`,
  });
  const decide = (human_entitlement: CallFacts['human_entitlement']) =>
    e.evaluate(callFacts({ action_category: 'delete', tool: 'delete_customer', server: 'crm', human_entitlement })).reasons.join(' ');

  it('recorded and covering the call: allowed', () => {
    expect(decide({ recorded: true, covers_call: true, tools: ['crm/*'] })).toBe('permit');
  });
  it('recorded but not covering it: the policy names its own reason (beside the built-in not_entitled)', () => {
    expect(decide({ recorded: true, covers_call: false, tools: ['crm/lookup_customer'] })).toBe('human_must_hold_it');
  });
  it('none recorded: unrestricted for the built-in (covers_call is true), but a rule may demand a record', () => {
    expect(decide({ recorded: false, covers_call: true, tools: [] })).toBe('human_must_hold_it');
    // Facts without the member (a caller that gathered none) read as none recorded, never a policy error.
    expect(decide(undefined)).toBe('human_must_hold_it');
  });
  it('the patterns themselves are readable', () => {
    expect(decide({ recorded: true, covers_call: true, tools: ['*'] })).toBe('human_holds_everything');
  });
  it('is observed only by a set that reads it', () => {
    expect(e.observes('human_entitlement')).toBe(true);
    expect(engine({ permit: PERMIT }).observes('human_entitlement')).toBe(false);
  });
});
