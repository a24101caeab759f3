import type { TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
/** Policies over entities: the agent's class, the human's groups, the tool's category and server, the chain's upstream actors. */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { tenantCatalogue } from '../catalogue/tenant-schema';
import { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';
import { decisionEntities, reachesEntities, toolAnnotations } from './entities';
import { PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

/** Alice (in hr and finance) lets a first-party payments agent move money through payments-mcp. */
const FACTS: CallFacts = {
  agent_id: 'pay-agent',
  agent_class: 'payments',
  trust_level: 'first_party_certified',
  human: 'alice',
  chain_length: 1,
  granted: true,
  intent_category: 'pay',
  action_category: 'pay',
  server: 'payments-mcp',
  tool: 'transfer_funds',
  resource_id: 'acct-1',
  resource_type: 'account',
  resource_classification: 'internal',
  environment: 'production',
  amount: 500,
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
  operator: 'ops-team',
  user: { status: 'active', groups: ['hr', 'finance'] },
  upstream: [],
  tool_annotations: { destructiveHint: true },
};
const upstream = (...levels: string[]) => levels.map((trust_level, i) => ({ id: `up-${i}`, agent_class: 'orchestrator', trust_level, operator: '' }));

function engine(policies: Record<string, string>): PolicyEngine {
  const r = PolicyEngine.compile(policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}
function errors(policies: Record<string, string>): string[] {
  const r = PolicyEngine.compile(policies);
  if (!('errors' in r)) throw new Error('expected the set to be refused');
  return r.errors;
}
const permitAll = 'permit (principal, action == Action::"call_tool", resource);';
const forbid = (reason: string, scope: string, cond = '') => `@reason("${reason}") forbid (${scope}) ${cond};`;
const ANY = 'principal, action == Action::"call_tool", resource';

describe('the agent in its class: principal in AgentClass', () => {
  const e = engine({ permitAll, only: forbid('not_payments', ANY, 'unless { principal in AgentClass::"payments" }') });
  it('allows an agent of the class and denies one of another class', () => {
    expect(e.evaluate(FACTS).verdict).toBe('allow');
    expect(e.evaluate({ ...FACTS, agent_class: 'scheduling' })).toMatchObject({ verdict: 'deny', reasons: ['not_payments'] });
  });
  it("reads the agent's trust level and operator as attributes", () => {
    const byAttr = engine({
      permitAll,
      ops: forbid('ops', ANY, 'when { principal.operator == "ops-team" && principal.trust_level == "first_party_certified" }'),
    });
    expect(byAttr.evaluate(FACTS).verdict).toBe('deny');
    expect(byAttr.evaluate({ ...FACTS, operator: undefined }).verdict).toBe('allow');
  });
  it('works as a scope too: permit (principal in AgentClass::"payments", …)', () => {
    const scoped = engine({ p: 'permit (principal in AgentClass::"payments", action == Action::"call_tool", resource);' });
    expect(scoped.evaluate(FACTS).verdict).toBe('allow');
    expect(scoped.evaluate({ ...FACTS, agent_class: 'unknown' }).verdict).toBe('deny');
  });
});

describe('the human in their groups: context.user in Group', () => {
  const e = engine({ permitAll, hr: forbid('hr_only', ANY, 'unless { context.user in Group::"hr" }') });
  it('allows a member of hr and denies a non-member', () => {
    expect(e.evaluate(FACTS).verdict).toBe('allow');
    expect(e.evaluate({ ...FACTS, user: { status: 'active', groups: ['finance'] } })).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
  });
  it('denies a human the directory does not know (no groups, status "unknown")', () => {
    expect(e.evaluate({ ...FACTS, user: undefined }).verdict).toBe('deny');
    const active = engine({ permitAll, a: forbid('inactive', ANY, 'unless { context.user.status == "active" }') });
    expect(active.evaluate(FACTS).verdict).toBe('allow');
    expect(active.evaluate({ ...FACTS, user: undefined })).toMatchObject({ verdict: 'deny', reasons: ['inactive'] });
  });
  it('sees the human as the same User the context names, so == and in agree', () => {
    const e2 = engine({
      p: 'permit (principal, action == Action::"call_tool", resource) when { context.user == User::"alice" && context.user in [Group::"finance", Group::"ops"] };',
    });
    expect(e2.evaluate(FACTS).verdict).toBe('allow');
    expect(e2.evaluate({ ...FACTS, human: 'bob' }).verdict).toBe('deny');
  });
});

describe('the tool in its category and server: resource in ToolCategory, resource in Server', () => {
  const e = engine({
    permitAll,
    pay: forbid('no_pay_outside_payments', ANY, 'when { resource in ToolCategory::"pay" } unless { resource in Server::"payments-mcp" }'),
  });
  it('allows a payment tool on the payments server and denies one elsewhere', () => {
    expect(e.evaluate(FACTS).verdict).toBe('allow');
    expect(e.evaluate({ ...FACTS, server: 'shadow-mcp' })).toMatchObject({ verdict: 'deny', reasons: ['no_pay_outside_payments'] });
  });
  it('leaves tools of other categories alone', () => {
    expect(e.evaluate({ ...FACTS, server: 'shadow-mcp', action_category: 'read' }).verdict).toBe('allow');
  });
  it("reads the catalogue's annotations (optional members, so `has` first)", () => {
    const d = engine({
      permitAll,
      d: forbid('destructive', ANY, 'when { resource.annotations has destructiveHint && resource.annotations.destructiveHint && resource.category == "pay" }'),
    });
    expect(d.evaluate(FACTS).verdict).toBe('deny');
    expect(d.evaluate({ ...FACTS, tool_annotations: { readOnlyHint: true } }).verdict).toBe('allow');
    expect(d.evaluate({ ...FACTS, tool_annotations: undefined }).verdict).toBe('allow');
  });
});

describe('the upstream actors of the chain', () => {
  const e = engine({
    permitAll,
    tp: forbid('third_party_upstream', ANY, 'when { context.chain_has_third_party && context.resource_classification != "public" }'),
  });
  it('denies when any upstream actor is third party, wherever it is in the chain', () => {
    expect(e.evaluate({ ...FACTS, chain_length: 3, upstream: upstream('first_party', 'third_party') })).toMatchObject({
      verdict: 'deny',
      reasons: ['third_party_upstream'],
    });
    expect(e.evaluate({ ...FACTS, chain_length: 3, upstream: upstream('third_party', 'first_party_certified') }).verdict).toBe('deny');
  });
  it('counts an upstream actor the token vouches nothing for as third party, as the starter set counts "unknown"', () => {
    expect(e.evaluate({ ...FACTS, chain_length: 2, upstream: upstream('unknown') }).verdict).toBe('deny');
  });
  it('allows a chain of first-party actors, and a call with no upstream actor', () => {
    expect(e.evaluate({ ...FACTS, chain_length: 3, upstream: upstream('first_party', 'first_party_certified') }).verdict).toBe('allow');
    expect(e.evaluate(FACTS).verdict).toBe('allow');
  });
  it('lets a policy name upstream actors and their trust levels', () => {
    const named = engine({
      permitAll,
      n: forbid('named', ANY, 'when { context.chain.contains(Agent::"up-1") || context.chain_trust_levels.contains("first_party") }'),
    });
    expect(named.evaluate({ ...FACTS, chain_length: 3, upstream: upstream('first_party_certified', 'first_party_certified') }).verdict).toBe('deny');
    expect(named.evaluate({ ...FACTS, chain_length: 2, upstream: upstream('first_party') }).verdict).toBe('deny');
    expect(named.evaluate({ ...FACTS, chain_length: 2, upstream: upstream('first_party_certified') }).verdict).toBe('allow');
  });
  it('gives each upstream actor its own class, and takes an agent that appears twice once', () => {
    const cls = engine({ permitAll, c: forbid('orchestrated', ANY, 'when { Agent::"up-0" in AgentClass::"orchestrator" }') });
    expect(cls.evaluate({ ...FACTS, chain_length: 2, upstream: upstream('first_party') }).verdict).toBe('deny');
    const twice = [{ id: FACTS.agent_id, agent_class: 'other', trust_level: 'third_party', operator: '' }];
    const d = cls.evaluate({ ...FACTS, chain_length: 2, upstream: twice });
    expect(d.reasons).not.toContain('policy_evaluation_failed');
    expect(decisionEntities({ ...FACTS, upstream: twice }).filter((x) => (x.uid as TypeAndId).type === 'Agent')).toHaveLength(1);
  });
});

describe('strict validation of entity policies', () => {
  it('refuses attributes the schema does not give an entity, and optional annotations read without `has`', () => {
    expect(errors({ p: forbid('x', ANY, 'when { context.user.groups.contains("hr") }') })[0]).toMatch(/^p: /);
    expect(errors({ p: forbid('x', ANY, 'when { principal.agent_name == "x" }') })[0]).toMatch(/^p: /);
    expect(errors({ p: forbid('x', ANY, 'when { resource.annotations.readOnlyHint }') })[0]).toMatch(/^p: /);
  });
  it('refuses a group compared with a string, and an entity type the schema lacks', () => {
    expect(errors({ p: forbid('x', ANY, 'when { context.user in "hr" }') })[0]).toMatch(/^p: /);
    expect(errors({ p: forbid('x', ANY, 'when { context.user in Team::"hr" }') }).length).toBeGreaterThan(0);
  });
});

describe('entities are sent only to sets that can reach them', () => {
  const json = (text: string) => {
    const r = cedar.policyToJson(text);
    if (r.type !== 'success') throw new Error(text);
    return r.json;
  };
  it("the starter set reaches none, so it decides at today's cost", () => {
    expect(Object.values(STARTER_POLICIES).some((p) => reachesEntities(json(p)))).toBe(false);
    expect(engine(STARTER_POLICIES).usesEntities).toBe(false);
  });
  it.each([
    ['principal in AgentClass::"p"', 'permit (principal in AgentClass::"p", action, resource);'],
    ['principal is Agent in AgentClass::"p"', 'permit (principal is Agent in AgentClass::"p", action, resource);'],
    ['resource in Server::"s"', 'permit (principal, action, resource in Server::"s");'],
    ['context.user in Group::"hr"', 'permit (principal, action, resource) when { context.user in Group::"hr" };'],
    ['context.chain', 'permit (principal, action, resource) when { context.chain.isEmpty() };'],
    ['principal.trust_level', 'permit (principal, action, resource) when { principal.trust_level == "x" };'],
    ['resource has annotations', 'permit (principal, action, resource) when { resource has annotations };'],
    ['an entity literal', 'permit (principal, action, resource) when { User::"a" in Group::"g" };'],
  ])('%s reaches entities', (_name, text) => {
    expect(reachesEntities(json(text))).toBe(true);
  });
  it.each([
    ['context facts only', 'permit (principal, action == Action::"call_tool", resource) when { context.granted && context.chain_has_third_party };'],
    ['principal == in the scope', 'permit (principal == Agent::"a", action in [Action::"call_tool"], resource == Tool::"s/t");'],
    ['resource is Tool', 'permit (principal, action, resource is Tool);'],
  ])('%s does not', (_name, text) => {
    expect(reachesEntities(json(text))).toBe(false);
  });
  it("a set with entities gives the starter set's own decisions on the starter set's calls", () => {
    const withEntities = engine({ ...STARTER_POLICIES, never: forbid('never', ANY, 'when { principal in AgentClass::"never" }') });
    expect(withEntities.usesEntities).toBe(true);
    const starter = engine(STARTER_POLICIES);
    const calls: Partial<CallFacts>[] = [
      {},
      { amount: 50_000 },
      { action_category: 'read', intent_category: 'read', resource_classification: 'confidential', trust_level: 'third_party' },
      { action_category: 'export', intent_category: 'export', external_destination: true, bulk: true },
      { action_category: 'delete', intent_category: 'delete', environment: 'staging', chain_length: 2, upstream: upstream('third_party') },
      { granted: false },
    ];
    for (const c of calls) expect(withEntities.evaluate({ ...FACTS, ...c })).toEqual(starter.evaluate({ ...FACTS, ...c }));
  });
});

describe('under a tool catalogue (entities are checked against the tenant schema)', () => {
  const catalogue = tenantCatalogue(1, [
    { server: 'payments-mcp', name: 'transfer_funds', inputSchema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] } },
  ]);
  const tool = catalogue.tools.get('payments-mcp/transfer_funds')!;
  const r = PolicyEngine.compile(
    {
      permitAll,
      hr: forbid(
        'hr_only',
        'principal in AgentClass::"payments", action == Action::"payments-mcp/transfer_funds", resource in Server::"payments-mcp"',
        'unless { context.user in Group::"hr" && resource.annotations has destructiveHint }',
      ),
    },
    { schema: catalogue.schema, schemaName: 'spec-entities-catalogue' },
  );
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  it("decides on a catalogued tool's action with its entities", () => {
    const input = tool.input({ amount: 12.5 });
    if ('problems' in input) throw new Error('bad input');
    const c = { action: tool.action, input: input.value };
    expect(r.engine.evaluate(FACTS, c).verdict).toBe('allow');
    expect(r.engine.evaluate({ ...FACTS, user: { status: 'active', groups: [] } }, c)).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
  });
  it('drops annotations the schema does not declare, which would fail the schema check', () => {
    expect(toolAnnotations({ destructiveHint: true, readOnlyHint: 'yes', vendorHint: 1, title: 'Transfer' })).toEqual({
      destructiveHint: true,
      title: 'Transfer',
    });
    const input = tool.input({ amount: 1 });
    if ('problems' in input) throw new Error('bad input');
    const odd = { ...FACTS, tool_annotations: { destructiveHint: true, vendorHint: 1 } as never };
    expect(r.engine.evaluate(odd, { action: tool.action, input: input.value }).verdict).toBe('allow');
  });
});
