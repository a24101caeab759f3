import type { TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
/** The human's directory attributes as the User entity's tags: rules by department, cost centre, … */
import { callFacts } from './call-facts.fixture';
import { decisionEntities } from './entities';
import { PolicyEngine } from './policy-engine';

function engine(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const PERMIT = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

describe('context.user tags (directory attributes)', () => {
  const e = engine({
    permit: PERMIT,
    legal: `@reason("legal_only")
forbid (principal, action == Action::"call_tool", resource) unless { context.user.hasTag("department") && context.user.getTag("department") == "legal" };`,
  });
  const decide = (attributes?: Record<string, string>) => e.evaluate(callFacts({ user: { status: 'active', groups: [], attributes } })).reasons.join(' ');

  it('a human of the legal department is allowed', () => {
    expect(decide({ department: 'legal', cost_centre: 'CC-12' })).toBe('permit');
  });
  it("another department, or none recorded, is denied with the policy's reason (hasTag guards getTag: no policy error)", () => {
    expect(decide({ department: 'sales' })).toBe('legal_only');
    expect(decide({})).toBe('legal_only');
    expect(decide(undefined)).toBe('legal_only');
  });
  it('getTag without hasTag does not validate: the validator asks for the guard', () => {
    const r = PolicyEngine.compile({ permit: PERMIT, bad: 'forbid (principal, action, resource) when { context.user.getTag("department") == "x" };' });
    expect('errors' in r && r.errors.join()).toMatch(/bad:/);
  });
  it("the User entity carries them as tags, and the resource owner's too", () => {
    const entities = decisionEntities(callFacts({ user: { status: 'active', groups: ['legal'], attributes: { department: 'legal' } } }));
    expect(entities.find((x) => (x.uid as TypeAndId).type === 'User')).toMatchObject({
      tags: { department: 'legal' },
      parents: [{ type: 'Group', id: 'legal' }],
    });
  });
});
