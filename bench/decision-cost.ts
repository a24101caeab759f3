/**
 * The richer decision the authorization figures drive (npm run bench), and where one decision's
 * engine time goes, measured alone in the bench process: the starter set with the flat facts
 * (what every tenant without entity rules or a catalogue pays) beside the starter set plus house
 * rules over entities and a catalogued tool's typed input, then the rich decision's parts one
 * ingredient at a time. CPU time per call (process.cpuUsage), median of several rounds, as in
 * bench/engine-entities.ts: on a shared machine other processes disturb it far less than wall time.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CatalogueEntry, tenantCatalogue } from '../src/authz/catalogue/tenant-schema';
import { catalogueCall } from '../src/authz/catalogue/tool-call';
import { CallFacts } from '../src/authz/policy/cedar-schema';
import { timeFacts } from '../src/authz/policy/decision-time';
import { delegationContext } from '../src/authz/policy/delegation-facts';
import { decisionEntities, entityContext } from '../src/authz/policy/entities';
import { PolicyEngine } from '../src/authz/policy/policy-engine';
import { STARTER_POLICIES } from '../src/authz/policy/starter-policies';

/** The catalogued tool of the rich figures, as an MCP docs server's `tools/list` would list it. */
export const RICH_TOOL = {
  name: 'read_document',
  title: 'Read a document',
  inputSchema: {
    type: 'object',
    properties: {
      id: { type: 'string', maxLength: 200 },
      pages: { type: 'integer', minimum: 1 },
      format: { type: 'string', enum: ['pdf', 'html', 'text'] },
      options: {
        type: 'object',
        properties: { include_comments: { type: 'boolean' }, max_bytes: { type: 'number', exclusiveMinimum: 0 } },
      },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 20 },
    },
    required: ['id'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};
export const RICH_SERVER = 'docs';
/** The call's arguments: every member of the schema, a nested record and a decimal among them. */
export const RICH_ARGS = { id: 'doc-1', pages: 12, format: 'pdf', options: { include_comments: true, max_bytes: 1048576.5 }, tags: ['q4', 'board'] };
/** The directory groups of the human (`context.user in Group::…`). */
export const RICH_GROUPS = ['staff', 'readers'];

/**
 * The starter set plus house rules that every decision of the rich figures must evaluate (none
 * matches the benchmark's call, so the starter set's `granted_read` decides): each reaches an
 * entity or the typed input, so the engine builds the entities for every decision.
 */
export const RICH_POLICIES: Record<string, string> = {
  ...STARTER_POLICIES,
  'staff-only': `@reason("not_staff")
forbid (principal, action == Action::"call_tool", resource) unless { context.user in Group::"staff" };`,
  'directory-people-only': `@reason("unknown_human")
forbid (principal, action == Action::"call_tool", resource) when { context.user.status != "active" };`,
  'docs-for-assistants': `@reason("not_an_assistant")
forbid (principal, action == Action::"call_tool", resource in Server::"docs") unless { principal in AgentClass::"assistant" };`,
  'uncertified-read-only': `@reason("uncertified_write")
forbid (principal, action == Action::"call_tool", resource)
when { context.trust_level != "first_party_certified" && !(resource.annotations has readOnlyHint && resource.annotations.readOnlyHint) && !(resource in ToolCategory::"read") };`,
  'no-revoked-orchestrator': `@reason("revoked_orchestrator")
forbid (principal, action == Action::"call_tool", resource) when { context.chain.contains(Agent::"revoked-orchestrator") || (context.chain_has_third_party && context.resource_classification != "public") };`,
  'page-limit': `@reason("too_many_pages")
forbid (principal, action == Action::"docs/read_document", resource) when { context.input has pages && context.input.pages > 500 };`,
  'download-limit': `@reason("download_too_large")
forbid (principal, action == Action::"docs/read_document", resource)
when { context.input has options && context.input.options has max_bytes && context.input.options.max_bytes.greaterThan(decimal("104857600.0")) };`,
  'no-html-of-restricted': `@reason("restricted_as_html")
forbid (principal, action == Action::"docs/read_document", resource)
when { context.input has format && context.input.format == "html" && context.resource_classification == "restricted" && !(context.input has tags && context.input.tags.contains("cleared")) };`,
};

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const N = Number(process.env.BENCH_N ?? 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Median CPU µs per call of each function, over ROUNDS rounds of N calls each, after a warm-up.
 * The rounds take the functions in turn, so that a burst of load from other processes falls on
 * all of them alike rather than on whichever was being measured at the time.
 */
export function cpuMicros(fns: (() => unknown)[]): number[] {
  for (const fn of fns) for (let i = 0; i < 1000; i++) fn();
  const rounds: number[][] = fns.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    fns.forEach((fn, k) => {
      const t = process.cpuUsage();
      for (let i = 0; i < N; i++) fn();
      const c = process.cpuUsage(t);
      rounds[k].push((c.user + c.system) / N);
    });
  }
  return rounds.map(median);
}

export interface CostRow {
  name: string;
  micros: number;
  note?: string;
}

/** The flat facts of today's figure (`docs/read_document`, a granted read, no entities). */
export function flatFacts(): CallFacts {
  return {
    agent_id: 'bench-agent',
    agent_class: 'assistant',
    trust_level: 'first_party_certified',
    human: 'alice',
    chain_length: 1,
    granted: true,
    intent_category: 'read',
    action_category: 'read',
    server: 'docs',
    tool: 'read_document',
    resource_id: 'doc-1',
    resource_type: '',
    resource_classification: 'internal',
    environment: 'production',
    amount: null,
    external_destination: false,
    bulk: false,
    reason_given: false,
    session_calls: 1,
    prior_denials: 0,
    prior_step_ups: 0,
    hour_of_day: 12,
    gateway_signals: [],
    time: timeFacts(new Date('2026-12-07T12:00:00Z'), 'Europe/Berlin'),
    network: '',
    velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
  };
}

/** The same call as the rich figures make it: the human in the directory with groups, the tool's annotations, and (chain of 2) an upstream actor. */
export function richFacts(upstream = false): CallFacts {
  return {
    ...flatFacts(),
    chain_length: upstream ? 2 : 1,
    operator: '',
    user: { status: 'active', groups: RICH_GROUPS },
    upstream: upstream ? [{ id: 'bench-orchestrator', agent_class: 'orchestration', trust_level: 'first_party', operator: '' }] : [],
    tool_annotations: RICH_TOOL.annotations,
  };
}

function compile(policies: Record<string, string>, catalogue?: Parameters<typeof PolicyEngine.compile>[1]): PolicyEngine {
  const r = PolicyEngine.compile(policies, catalogue);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

/** Where a decision's engine time goes: today's flat decision, the rich one, and the rich one's parts. */
export function decisionCost(): CostRow[] {
  const entry: CatalogueEntry = { server: RICH_SERVER, name: RICH_TOOL.name, inputSchema: RICH_TOOL.inputSchema, annotations: RICH_TOOL.annotations };
  const catalogue = tenantCatalogue(1, [entry]);
  const flat = compile(STARTER_POLICIES);
  const rich = compile(RICH_POLICIES, { schema: catalogue.schema });
  if (flat.usesEntities || !rich.usesEntities) throw new Error('expected the starter set without entities and the rich set with them');
  const action = { server: RICH_SERVER, tool: RICH_TOOL.name, arguments: RICH_ARGS };
  const call = catalogueCall(catalogue, action)!;
  const facts = flatFacts();
  const one = richFacts();
  const two = richFacts(true);
  const starterUnderCatalogue = compile(STARTER_POLICIES, { schema: catalogue.schema });
  for (const [engine, f, c] of [
    [flat, facts, undefined],
    [starterUnderCatalogue, one, call],
    [rich, one, call],
    [rich, two, call],
  ] as const) {
    const d = engine.evaluate(f, c);
    if (d.verdict !== 'allow' || d.reasons.join() !== 'granted_read') throw new Error(`expected allow granted_read, got ${JSON.stringify(d)}`);
  }

  const starterCount = Object.keys(STARTER_POLICIES).length;
  const measured: { name: string; fn: () => unknown; note?: string }[] = [];
  const row = (name: string, fn: () => unknown, note?: string) => measured.push({ name, fn, ...(note ? { note } : {}) });
  row(`starter set (${starterCount} policies), flat facts, no entities (today)`, () => flat.evaluate(facts));
  row(
    `starter set, catalogued tool: + typed input (context.input), no entities`,
    () => starterUnderCatalogue.evaluate(one, call),
    'the starter set reaches no entity, so none are built',
  );
  row(
    `starter set + ${Object.keys(RICH_POLICIES).length - starterCount} house rules over entities and typed input, 3 entities`,
    () => rich.evaluate(one, call),
    'PolicyEngine.evaluate as the decision path calls it: context, entities, Cedar, the answer mapped',
  );
  row('the same, chain of 2: 4 entities, context.chain names the upstream actor', () => rich.evaluate(two, call));
  row('checking and converting the arguments against the inputSchema (catalogueCall, once per decision)', () => catalogueCall(catalogue, action));

  // The rich decision's parts (raw statefulIsAuthorized, as the engine calls it).
  const richId = (rich as unknown as { policySetId: string }).policySetId;
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
  } = one;
  const context = {
    ...rest,
    has_amount: amount !== null,
    amount: amount ?? 0,
    ...entityContext(one),
    input: call.input as cedar.CedarValueJson,
  } as cedar.Context;
  // As the engine calls it: no schema, the tool's action under call_tool given as an Action entity.
  const actionEntity: cedar.EntityJson = { uid: { type: 'Action', id: call.action }, attrs: {}, parents: [{ type: 'Action', id: 'call_tool' }] };
  const entities = [...decisionEntities(one), actionEntity];
  const request = {
    principal: { type: 'Agent', id: one.agent_id },
    action: { type: 'Action', id: call.action },
    resource: { type: 'Tool', id: `${one.server}/${one.tool}` },
    context,
    preparsedPolicySetId: richId,
  };
  const raw = () => cedar.statefulIsAuthorized({ ...request, entities });
  row(
    "  of which: the Cedar call with the 3 entities and the tool's action, given the whole context (rich set, context prebuilt)",
    raw,
    'the engine gives Cedar only the members its policies read',
  );
  row('  of which: building the entity list in JS (decisionEntities)', () => decisionEntities(one));
  // What the engine did before: pass the tenant schema so that the action sits under call_tool;
  // Cedar then parses the context and entities against it on every call.
  const schemaName = 'bench-decision-cost';
  const preparsed = cedar.preparseSchema(schemaName, catalogue.schema);
  if (preparsed.type !== 'success') throw new Error(JSON.stringify(preparsed.errors));
  // The schema requires every context member, the ones the engine builds only for a set that reads them too.
  const schemedRequest = {
    ...request,
    context: {
      ...context,
      ...delegationContext(one),
      human_entitlement: { recorded: false, covers_call: true, tools: [] },
      agent_flags: { last_24h: 0, last_7d: 0, last_30d: 0 },
      autonomy: { consecutive_approvals: 0, approvals: 0, denials: 0, flags: 0, days_since_last_denial: 0, days_since_last_flag: 0 },
    } as cedar.Context,
  };
  const schemed = () =>
    cedar.statefulIsAuthorized({ ...schemedRequest, entities: entities.slice(0, -1), preparsedSchemaName: schemaName, validateRequest: false });
  for (const answer of [raw(), schemed()]) {
    if (
      answer.type !== 'success' ||
      answer.response.decision !== 'allow' ||
      answer.response.diagnostics.errors.length ||
      answer.response.diagnostics.reason.join() !== 'permit-granted-reads'
    ) {
      throw new Error(`the raw Cedar calls decide differently: ${JSON.stringify(answer)}`);
    }
  }
  row(
    '  what if: the same Cedar call with the tenant schema instead of the action entity (the engine before)',
    schemed,
    'the schema-directed parse of context and entities is the difference',
  );
  const micros = cpuMicros(measured.map((m) => m.fn));
  starterUnderCatalogue.release();
  flat.release();
  rich.release();
  return measured.map(({ name, note }, i) => ({ name, micros: Math.round(micros[i] * 10) / 10, ...(note ? { note } : {}) }));
}
