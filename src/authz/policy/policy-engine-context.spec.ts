/**
 * Cedar converts every context member it is given, read or not, and that conversion was most of a
 * decision's cost. The engine gives it only the members its policies read (policy-engine.ts,
 * membersRead). These cases fail if a member a policy reads goes missing, or if unread ones are
 * sent again.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { callFacts } from './call-facts.fixture';
import { PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

jest.mock('@cedar-policy/cedar-wasm/nodejs', () => {
  const actual = jest.requireActual<typeof cedar>('@cedar-policy/cedar-wasm/nodejs');
  return { ...actual, statefulIsAuthorized: jest.fn(actual.statefulIsAuthorized) };
});

const permitWhen = (cond: string) => `permit (principal, action == Action::"call_tool", resource) when { ${cond} };`;

function compile(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

/** The context of each call the engine made to Cedar while `run` ran. */
function contextsGiven(run: () => void): Record<string, unknown>[] {
  const evaluate = jest.mocked(cedar.statefulIsAuthorized);
  evaluate.mockClear();
  run();
  return evaluate.mock.calls.map(([call]) => call.context as Record<string, unknown>);
}

describe('the context the engine gives Cedar', () => {
  it('holds only the members some policy reads, and the decision follows them as before', () => {
    const engine = compile({
      allow: permitWhen('context.granted && context.time.epoch_seconds > 0'),
      tor: '@reason("tor") forbid (principal, action, resource) when { context has network && context.network == "tor" };',
    });
    let verdicts: string[] = [];
    const [plain, tor] = contextsGiven(() => {
      verdicts = [
        engine.evaluate(callFacts()).verdict,
        engine.evaluate(callFacts({ network: 'tor' })).verdict,
        engine.evaluate(callFacts({ granted: false })).verdict,
      ];
    });
    expect(verdicts).toEqual(['allow', 'deny', 'deny']);
    expect(Object.keys(plain).sort()).toEqual(['granted', 'network', 'time']);
    expect(tor).toMatchObject({ granted: true, network: 'tor', time: { epoch_seconds: callFacts().time.epoch_seconds } });
    engine.release();
  });

  it("holds the starter set's members and not the clock it never reads", () => {
    const engine = compile(STARTER_POLICIES);
    const [given] = contextsGiven(() => engine.evaluate(callFacts({ amount: 20 })));
    expect(given).toMatchObject({ granted: true, has_amount: true, amount: 20, velocity: callFacts().velocity });
    expect(given).not.toHaveProperty('time');
    expect(given).not.toHaveProperty('hour_of_day');
    engine.release();
  });

  it('still denies, without asking Cedar, when an unread member holds a number Cedar cannot hold', () => {
    const engine = compile({ allow: permitWhen('context.granted') });
    for (const odd of [NaN, Infinity, 0.5, 2 ** 64]) {
      const given = contextsGiven(() =>
        expect(engine.evaluate(callFacts({ hour_of_day: odd }))).toEqual({
          verdict: 'deny',
          obligations: [],
          determining_policies: [],
          reasons: ['policy_evaluation_failed'],
        }),
      );
      expect(given).toEqual([]);
      expect(engine.evaluate(callFacts({ velocity: { last_60s: 1, last_300s: odd, last_3600s: 1 } })).verdict).toBe('deny');
    }
    expect(engine.evaluate(callFacts({ hour_of_day: 2 ** 62 })).verdict).toBe('allow');
    engine.release();
  });

  it('holds every member when a policy reads the context as a whole', () => {
    const engine = compile({ allow: permitWhen('context == context && context.granted') });
    const [given] = contextsGiven(() => expect(engine.evaluate(callFacts()).verdict).toBe('allow'));
    expect(Object.keys(given)).toEqual(expect.arrayContaining(['granted', 'network', 'time', 'session_calls', 'velocity', 'amount', 'has_amount']));
    engine.release();
  });
});
