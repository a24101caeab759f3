import { PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

/** The starter set and 22 forbids more: a 39-policy set like the one whose publishing crashed the service. */
const THIRTY_NINE: Record<string, string> = {
  ...STARTER_POLICIES,
  ...Object.fromEntries(
    Array.from({ length: 39 - Object.keys(STARTER_POLICIES).length }, (_, i) => [
      `forbid-blocked-${i}`,
      `@reason("blocked_${i}") forbid (principal, action == Action::"call_tool", resource) when { context.server == "blocked-${i}" };`,
    ]),
  ),
};

describe('compiling policy sets in a long-lived process', () => {
  it('compiles a 39-policy set 600 times without V8 dying (it did at 200-550 compiles)', () => {
    for (let i = 0; i < 600; i++) expect(PolicyEngine.compile(THIRTY_NINE)).toHaveProperty('engine');
  }, 120_000);
});
