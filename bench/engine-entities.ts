/**
 * Engine only, no HTTP, no I/O: what entities cost a decision, and where a decision's time goes.
 * `npm run build && node dist/bench/engine-entities.js` (BENCH_ROUNDS, BENCH_N to change the run).
 *
 * Reports CPU time per decision (process.cpuUsage, which other processes on a shared machine
 * disturb far less than wall time) as the median of several rounds, and decisions/s on one thread.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CallFacts } from '../src/authz/policy/cedar-schema';
import { timeFacts } from '../src/authz/policy/decision-time';
import { decisionEntities, entityContext } from '../src/authz/policy/entities';
import { PolicyEngine } from '../src/authz/policy/policy-engine';
import { STARTER_POLICIES } from '../src/authz/policy/starter-policies';
import { tenantCatalogue } from '../src/authz/catalogue/tenant-schema';
import { convertAttributes, ResourceTypeDecl } from '../src/authz/resources/resource-schema';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const N = Number(process.env.BENCH_N ?? 4000);

const facts: CallFacts = {
  agent_id: 'bench-agent',
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
  time: timeFacts(new Date('2026-12-07T12:00:00Z'), 'Europe/Berlin'),
  network: '',
  velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
  operator: 'ops-team',
  user: { status: 'active', groups: ['hr', 'finance', 'staff'] },
  upstream: [],
  tool_annotations: { destructiveHint: true, openWorldHint: false },
};
const chained: CallFacts = {
  ...facts,
  chain_length: 3,
  upstream: [
    { id: 'orchestrator', agent_class: 'orchestration', trust_level: 'first_party', operator: '' },
    { id: 'vendor-agent', agent_class: 'vendor', trust_level: 'third_party', operator: 'vendor-inc' },
  ],
};

/** Four house rules over entities, none of which matches the benchmark's call (so the starter set decides). */
const ENTITY_RULES: Record<string, string> = {
  'hr-tools-for-hr':
    '@reason("hr_only") forbid (principal, action == Action::"call_tool", resource in ToolCategory::"hr") unless { context.user in Group::"hr" };',
  'payments-agents-only':
    '@reason("pay_class") forbid (principal, action == Action::"call_tool", resource in ToolCategory::"pay") unless { principal in AgentClass::"payments" };',
  'payments-server-only':
    '@reason("pay_server") forbid (principal, action == Action::"call_tool", resource in ToolCategory::"pay") unless { resource in Server::"payments-mcp" };',
  'no-third-party-upstream-on-pay':
    '@reason("pay_chain") forbid (principal, action == Action::"call_tool", resource) when { context.chain_has_third_party && context.action_category == "pay" && context.amount > 1000000 };',
};

/** A declared resource type and two house rules on it (neither matches the benchmark's document). */
const DOCUMENT: ResourceTypeDecl = {
  name: 'Document',
  attributes: { department: { type: 'string' }, pages: { type: 'long', optional: true }, tags: { type: 'set<string>' } },
};
const RESOURCE_RULES: Record<string, string> = {
  'owner-only-confidential':
    '@reason("not_the_owner") forbid (principal, action == Action::"call_tool", resource) when { context has Document && context.Document.classification == "restricted" } unless { context.Document.owner == context.user };',
  'hr-docs-for-hr':
    '@reason("hr_docs") forbid (principal, action == Action::"call_tool", resource) when { context has Document && context.Document.department == "legal" } unless { context.user in Group::"legal" };',
};
const documentAttributes = convertAttributes(DOCUMENT, { department: 'finance', pages: 12, tags: ['q3', 'board'] });
const withDocument: CallFacts = {
  ...facts,
  resource: {
    type: 'Document',
    id: 'doc-1',
    classification: 'confidential',
    environment: 'production',
    owner: 'bob',
    owner_user: { status: 'active', groups: ['finance'] },
    attributes: 'value' in documentAttributes ? documentAttributes.value : {},
  },
};

/** Rules over the on-demand members (each hop's delegation, the human's own entitlement, their tags); none matches the call. */
const CHAIN_RULES: Record<string, string> = {
  'pay-for-invoicing':
    '@reason("purpose") forbid (principal, action == Action::"call_tool", resource) when { context.action_category == "pay" && context.delegation_chain.without_purpose > 0 && context.amount > 1000000 };',
  'short-delegation':
    '@reason("short") forbid (principal, action == Action::"call_tool", resource) when { context.delegation has window_seconds && context.delegation.window_seconds < 60 };',
  'own-entitlement':
    '@reason("own") forbid (principal, action == Action::"call_tool", resource) when { context.action_category == "delete" } unless { context.human_entitlement.recorded };',
  'legal-by-department':
    '@reason("dept") forbid (principal, action == Action::"call_tool", resource in ToolCategory::"legal") unless { context.user.hasTag("department") && context.user.getTag("department") == "legal" };',
};
const HOP = {
  id: 'dlg_1',
  purpose: 'invoicing',
  granted_at: '2026-12-07T10:00:00.000Z',
  not_before: null,
  expires_at: '2026-12-08T10:00:00.000Z',
  tools: ['payments-mcp/*'],
  resources: null,
};
const withChainFacts: CallFacts = {
  ...facts,
  user: { ...facts.user!, attributes: { department: 'finance', cost_centre: 'CC-12' } },
  delegations: [HOP, { ...HOP, id: 'dlg_2' }],
  human_entitlement: { recorded: true, covers_call: true, tools: ['payments-mcp/*'] },
};

function compile(policies: Record<string, string>, schema?: ReturnType<typeof tenantCatalogue>['schema']): PolicyEngine {
  const r = PolicyEngine.compile(policies, schema && { schema });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median CPU µs per call over ROUNDS rounds of N calls, after a warm-up. */
function measure(fn: () => unknown): number {
  for (let i = 0; i < 1000; i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    const c = process.cpuUsage(t);
    rounds.push((c.user + c.system) / N);
  }
  return median(rounds);
}

const rows: [string, number][] = [];
const row = (name: string, us: number) => {
  rows.push([name, us]);
  console.log(
    `${name.padEnd(78)} ${us.toFixed(1).padStart(7)} µs  ${Math.round(1e6 / us)
      .toString()
      .padStart(6)}/s`,
  );
};

const starter = compile(STARTER_POLICIES);
const withEntities = compile({ ...STARTER_POLICIES, ...ENTITY_RULES });
if (starter.usesEntities || !withEntities.usesEntities) throw new Error('expected the starter set without entities and the house set with them');
const a = withEntities.evaluate(facts);
const b = starter.evaluate(facts);
if (a.verdict !== b.verdict) throw new Error(`the house rules changed the verdict: ${a.verdict} vs ${b.verdict}`);

console.log(`engine only, CPU time per decision, median of ${ROUNDS} rounds of ${N} (cedar-wasm ${cedar.getCedarVersion()}, node ${process.version})`);
row(
  'starter set (16 policies), no entities (today)',
  measure(() => starter.evaluate(facts)),
);
row(
  'starter set + 4 entity rules: 3 entities (agent, user in 3 groups, tool)',
  measure(() => withEntities.evaluate(facts)),
);
row(
  'starter set + 4 entity rules, chain of 3: 5 entities',
  measure(() => withEntities.evaluate(chained)),
);
const withResources = compile({ ...STARTER_POLICIES, ...ENTITY_RULES, ...RESOURCE_RULES }, tenantCatalogue(1, [], [DOCUMENT]).schema);
if (withResources.evaluate(withDocument).verdict !== b.verdict) throw new Error('the resource rules changed the verdict');
row(
  '+ 2 resource rules, a registered Document owned by another user: 5 entities',
  measure(() => withResources.evaluate(withDocument)),
);
const withChain = compile({ ...STARTER_POLICIES, ...ENTITY_RULES, ...CHAIN_RULES });
if (
  starter.observes('delegation') ||
  starter.observes('human_entitlement') ||
  !withChain.observes('delegation_chain') ||
  !withChain.observes('human_entitlement')
) {
  throw new Error('expected the starter set to read no on-demand member and the chain rules to read them');
}
if (withChain.evaluate(withChainFacts).verdict !== b.verdict) throw new Error('the chain rules changed the verdict');
row(
  'starter set, facts carrying 2 hops, entitlement and tags (unread: not built)',
  measure(() => starter.evaluate(withChainFacts)),
);
row(
  '+ 4 entity rules + 4 rules over delegation(_chain), human_entitlement, tags',
  measure(() => withChain.evaluate(withChainFacts)),
);

// Where the time goes: the same call to Cedar, one ingredient at a time.
const {
  agent_id: _a,
  amount,
  operator: _o,
  user: _u,
  upstream: _up,
  tool_annotations: _t,
  resource: _r,
  delegations: _d,
  human_entitlement: _he,
  ...rest
} = facts;
const context = { ...rest, has_amount: amount !== null, amount: amount ?? 0, ...entityContext(facts) } as cedar.Context;
const trivialId = 'bench-trivial';
cedar.preparsePolicySet(trivialId, { staticPolicies: { t: 'permit (principal, action, resource);' } });
const call = (policySet: string, ctx: cedar.Context, entities: cedar.EntityJson[]) => () =>
  cedar.statefulIsAuthorized({
    principal: { type: 'Agent', id: 'bench-agent' },
    action: { type: 'Action', id: 'call_tool' },
    resource: { type: 'Tool', id: 'payments-mcp/transfer_funds' },
    context: ctx,
    preparsedPolicySetId: policySet,
    entities,
  });
const starterId = (starter as unknown as { policySetId: string }).policySetId;
const entities = decisionEntities(facts);
const parentsOnly = entities.map((e) => ({ ...e, attrs: {} }));
console.log('\nwhere the time goes (raw statefulIsAuthorized)');
row('one trivial policy, empty context, no entities (the call itself)', measure(call(trivialId, {}, [])));
row('one trivial policy, the full context (32 members), no entities', measure(call(trivialId, context, [])));
row('the starter set, the full context, no entities', measure(call(starterId, context, [])));
row('the starter set, the full context, 3 entities with parents only', measure(call(starterId, context, parentsOnly)));
row('the starter set, the full context, 3 entities with their attributes', measure(call(starterId, context, entities)));
row('the starter set, the full context, 5 entities (chain of 3)', measure(call(starterId, context, decisionEntities(chained))));
row(
  'building the entity list in JS (decisionEntities)',
  measure(() => decisionEntities(chained)),
);
