/**
 * Evaluation passes no schema to Cedar (policy-engine.ts, evaluate): a catalogued tool's action
 * reaches `Action::"call_tool"` through an Action entity, and typed values travel in Cedar's
 * explicit form. These cases fail if the action hierarchy is lost or if a value relied on the
 * schema for its type (a decimal read as a record would be a policy error, which denies).
 */
import { tenantCatalogue } from '../catalogue/tenant-schema';
import { ResourceTypeDecl, convertAttributes } from '../resources/resource-schema';
import { CallFacts, ResourceFacts } from './cedar-schema';
import { callFacts } from './call-facts.fixture';
import { timeFacts } from './decision-time';
import { PolicyEngine, ToolCall } from './policy-engine';

const ACCOUNT: ResourceTypeDecl = {
  name: 'BankAccount',
  attributes: { daily_limit: { type: 'decimal' }, overdraft: { type: 'decimal', optional: true }, tags: { type: 'set<string>' }, currency: { type: 'string' } },
};

const TRANSFER = {
  type: 'object',
  properties: {
    amount: { type: 'number' },
    currency: { type: 'string', enum: ['EUR', 'USD'] },
    fees: { type: 'object', properties: { rate: { type: 'number' }, cap: { type: ['number', 'null'] } }, required: ['rate'] },
    splits: { type: 'array', items: { type: 'number' } },
    labels: { type: 'array', items: { type: 'string' } },
    count: { type: 'integer' },
  },
  required: ['amount', 'currency'],
};

const catalogue = tenantCatalogue(1, [{ server: 'payments-mcp', name: 'transfer_funds', inputSchema: TRANSFER }], [ACCOUNT]);
const tool = catalogue.tools.get('payments-mcp/transfer_funds')!;

function call(args: Record<string, unknown>): ToolCall {
  const r = tool.input(args);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return { action: tool.action, input: r.value };
}

const FACTS: CallFacts = callFacts({ resource_id: 'acct-1', resource_type: 'BankAccount', user: { status: 'active', groups: ['staff'] } });

function withAccount(attributes: Record<string, unknown>): CallFacts {
  const converted = convertAttributes(ACCOUNT, attributes);
  if ('problems' in converted) throw new Error(JSON.stringify(converted.problems));
  const resource: ResourceFacts = {
    type: 'BankAccount',
    id: 'acct-1',
    classification: 'internal',
    environment: 'production',
    owner: 'alice',
    owner_user: { status: 'active', groups: ['staff'] },
    attributes: converted.value,
  };
  return { ...FACTS, resource };
}

function compiled(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies, { schema: catalogue.schema });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const EQ_CALL_TOOL = '@reason("granted") permit (principal, action == Action::"call_tool", resource) when { context.granted };';
const IN_CALL_TOOL = '@reason("granted_in") permit (principal, action in Action::"call_tool", resource) when { context.granted };';
const ARGS = { amount: 250.5, currency: 'EUR' };

describe('evaluation without the tenant schema: the action hierarchy', () => {
  it.each([
    ['action == Action::"call_tool"', EQ_CALL_TOOL, 'granted'],
    ['action in Action::"call_tool"', IN_CALL_TOOL, 'granted_in'],
  ])('a permit scoped %s covers a catalogued tool, with no entities built', (_scope, policy, reason) => {
    const engine = compiled({ p: policy });
    expect(engine.usesEntities).toBe(false);
    expect(engine.evaluate(FACTS, call(ARGS))).toEqual({ verdict: 'allow', obligations: [], determining_policies: ['p'], reasons: [reason] });
    // And still every uncatalogued call, evaluated as call_tool itself.
    expect(engine.evaluate({ ...FACTS, tool: 'other' }).verdict).toBe('allow');
    engine.release();
  });

  it.each([
    ['action == Action::"call_tool"', 'forbid (principal, action == Action::"call_tool", resource) when { context.server == "payments-mcp" };'],
    ['action in Action::"call_tool"', 'forbid (principal, action in Action::"call_tool", resource) when { context.server == "payments-mcp" };'],
    ['action in [Action::"call_tool"]', 'forbid (principal, action in [Action::"call_tool"], resource) when { context.server == "payments-mcp" };'],
    [
      'action in Action::"call_tool" in a condition',
      'forbid (principal, action, resource) when { action in Action::"call_tool" && context.server == "payments-mcp" };',
    ],
  ])('a forbid scoped %s still catches a catalogued tool, with entities built too', (_scope, forbid) => {
    const engine = compiled({
      p: EQ_CALL_TOOL,
      f: `@reason("frozen") ${forbid}`,
      e: 'forbid (principal, action, resource) when { context.user in Group::"banned" };',
    });
    expect(engine.usesEntities).toBe(true);
    expect(engine.evaluate(FACTS, call(ARGS))).toEqual({ verdict: 'deny', obligations: [], determining_policies: ['f'], reasons: ['frozen'] });
    engine.release();
  });

  it('a policy on the tool action matches that tool only', () => {
    const engine = compiled({ p: '@reason("transfer") permit (principal, action == Action::"payments-mcp/transfer_funds", resource);' });
    expect(engine.evaluate(FACTS, call(ARGS)).reasons).toEqual(['transfer']);
    expect(engine.evaluate(FACTS).verdict).toBe('deny');
    engine.release();
  });
});

describe('evaluation without the tenant schema: typed values keep their types', () => {
  const policies = {
    p: EQ_CALL_TOOL,
    big: `@reason("big") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource) when { context.input.amount.greaterThan(decimal("1000.00")) };`,
    fee: `@reason("fee") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
      when { context.input has fees && (context.input.fees.rate.greaterThanOrEqual(decimal("0.05")) || (context.input.fees has cap && context.input.fees.cap.lessThan(decimal("1.0")))) };`,
    split: `@reason("split") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
      when { context.input has splits && context.input.splits.contains(decimal("13.13")) };`,
    label: `@reason("label") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
      when { context.input has labels && context.input.labels.containsAny(["payroll"]) && context.input has count && context.input.count > 3 };`,
    limit: `@reason("over_limit") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
      when { context has BankAccount && context.input.amount.greaterThan(context.BankAccount.daily_limit) };`,
    overdraft: `@reason("overdraft") forbid (principal, action == Action::"call_tool", resource)
      when { context has BankAccount && context.BankAccount has overdraft && context.BankAccount.overdraft.lessThan(decimal("-500.0")) };`,
    frozen: `@reason("frozen_account") forbid (principal, action == Action::"call_tool", resource)
      when { context has BankAccount && context.BankAccount.tags.contains("frozen") };`,
    date: `@reason("after_cutoff") forbid (principal, action == Action::"call_tool", resource) when { context.time.now >= datetime("2027-01-01") };`,
  };
  const engine = compiled(policies);
  const account = { daily_limit: 1000, tags: ['retail'], currency: 'EUR' };

  afterAll(() => engine.release());

  it.each<[string, Record<string, unknown>, Record<string, unknown>, string]>([
    ['a plain transfer', { amount: 250.5, currency: 'EUR' }, account, 'granted'],
    ['a decimal just over a decimal literal', { amount: 1000.0001, currency: 'EUR' }, { ...account, daily_limit: 5000 }, 'big'],
    ['a decimal equal to it', { amount: 1000, currency: 'EUR' }, { ...account, daily_limit: 5000 }, 'granted'],
    ['a decimal in a nested record', { amount: 1, currency: 'EUR', fees: { rate: 0.05 } }, account, 'fee'],
    ['a nested record under the limit', { amount: 1, currency: 'EUR', fees: { rate: 0.0499 } }, account, 'granted'],
    ['an optional decimal member present', { amount: 1, currency: 'EUR', fees: { rate: 0.01, cap: 0.5 } }, account, 'fee'],
    ['an optional decimal member null (absent)', { amount: 1, currency: 'EUR', fees: { rate: 0.01, cap: null } }, account, 'granted'],
    ['a set of decimals', { amount: 1, currency: 'EUR', splits: [1, 13.13] }, account, 'split'],
    ['a set of decimals without it', { amount: 1, currency: 'EUR', splits: [13.131, 13.12] }, account, 'granted'],
    ['a set of strings and a long', { amount: 1, currency: 'EUR', labels: ['payroll'], count: 4 }, account, 'label'],
    ["the input over the resource's decimal attribute", { amount: 500.26, currency: 'EUR' }, { ...account, daily_limit: 500.25 }, 'over_limit'],
    ['the input equal to it', { amount: 500.25, currency: 'EUR' }, { ...account, daily_limit: 500.25 }, 'granted'],
    ['an optional decimal attribute below a literal', { amount: 1, currency: 'EUR' }, { ...account, overdraft: -500.01 }, 'overdraft'],
    ['an optional decimal attribute at it', { amount: 1, currency: 'EUR' }, { ...account, overdraft: -500 }, 'granted'],
    ['a set<string> attribute', { amount: 1, currency: 'EUR' }, { ...account, tags: ['frozen', 'retail'] }, 'frozen_account'],
  ])('%s', (_name, args, attributes, reason) => {
    const decision = engine.evaluate(withAccount(attributes), call(args));
    expect(decision.reasons).toEqual([reason]);
    expect(decision.verdict).toBe(reason === 'granted' ? 'allow' : 'deny');
  });

  it('compares the decision time as a datetime', () => {
    const late = { ...withAccount(account), time: timeFacts(new Date('2027-01-01T00:00:00Z'), 'UTC') };
    expect(engine.evaluate(late, call(ARGS)).reasons).toEqual(['after_cutoff']);
  });
});
