/**
 * The entities of one decision, built from its facts: the current agent (the principal) in its
 * class, the human (`context.user`) in their directory groups with their attributes as tags, the tool (the resource) in its
 * category and server, and the upstream actors of the chain (`context.chain`), each in its own
 * class, and the call's registered resource (`context.<Type>`, see authz/resources) with its owner
 * (`User`). Parents are given by uid only: Cedar answers `in` from the parents list, so `Group`,
 * `AgentClass`, `ToolCategory` and `Server` never travel as entities themselves.
 *
 * Converting entities is the dearest part of a decision (STACK-NOTES; measured in
 * bench/engine-entities.ts), so a policy set that cannot reach any entity is evaluated with none:
 * see reachesEntities. Plain TypeScript, no Nest.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { ActorFacts, CallFacts, ToolAnnotations, UserFacts } from './cedar-schema';

/** Trust levels a chain counts as third party: not vouched for as first party by the token's issuer. */
export const THIRD_PARTY_TRUST = ['third_party', 'unknown'];

const NO_USER: UserFacts = { status: 'unknown', groups: [] };
const FLAGS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

/**
 * The annotations the schema declares, with the types it declares, and nothing else: policies are
 * validated against those types, so a stray member or another type must never reach them.
 */
export function toolAnnotations(raw: unknown): ToolAnnotations {
  if (!raw || typeof raw !== 'object') return {};
  const a = raw as Record<string, unknown>;
  const out: ToolAnnotations = {};
  if (typeof a.title === 'string') out.title = a.title;
  for (const flag of FLAGS) if (typeof a[flag] === 'boolean') out[flag] = a[flag];
  return out;
}

const uid = (type: string, id: string) => ({ type, id });
const ref = (type: string, id: string) => ({ __entity: { type, id } });

/** The context members that name entities or sum up the chain; present in every decision (the schema requires them). */
export function entityContext(facts: CallFacts) {
  const upstream = facts.upstream ?? [];
  const levels = [...new Set(upstream.map((a) => a.trust_level))].sort();
  return {
    user: ref('User', facts.human),
    chain: upstream.map((a) => ref('Agent', a.id)),
    chain_has_third_party: levels.some((l) => THIRD_PARTY_TRUST.includes(l)),
    chain_trust_levels: levels,
    // A registered resource, as the member named after its type (resource-schema.ts).
    ...(facts.resource ? { [facts.resource.type]: ref(facts.resource.type, facts.resource.id) } : {}),
  };
}

/** Principal, human, tool and upstream actors, each once, with the attributes the schema declares. */
export function decisionEntities(facts: CallFacts): cedar.EntityJson[] {
  const user = facts.user ?? NO_USER;
  const agent = (a: ActorFacts): cedar.EntityJson => ({
    uid: uid('Agent', a.id),
    attrs: { trust_level: a.trust_level, operator: a.operator },
    parents: [uid('AgentClass', a.agent_class)],
  });
  const current: ActorFacts = { id: facts.agent_id, agent_class: facts.agent_class, trust_level: facts.trust_level, operator: facts.operator ?? '' };
  const agents = new Map<string, cedar.EntityJson>();
  // An agent that appears twice in a chain is one entity (Cedar refuses duplicates); the current actor's claims win.
  for (const a of [current, ...(facts.upstream ?? [])]) if (!agents.has(a.id)) agents.set(a.id, agent(a));
  const person = (id: string, u: UserFacts): cedar.EntityJson => ({
    uid: uid('User', id),
    attrs: { status: u.status },
    parents: [...new Set(u.groups)].map((g) => uid('Group', g)),
    // Directory attributes as tags: `context.user.hasTag("department") && context.user.getTag("department") == "legal"`.
    tags: { ...u.attributes },
  });
  const r = facts.resource;
  const resource: cedar.EntityJson[] = r
    ? [
        {
          uid: uid(r.type, r.id),
          attrs: {
            ...(r.attributes as Record<string, cedar.CedarValueJson>),
            classification: r.classification,
            environment: r.environment,
            owner: ref('User', r.owner),
          },
          parents: [],
        },
        // The owner is an entity too (`context.Document.owner in Group::"hr"`), once: the human may own it.
        ...(r.owner !== facts.human ? [person(r.owner, r.owner_user)] : []),
      ]
    : [];
  return [
    ...agents.values(),
    person(facts.human, user),
    {
      uid: uid('Tool', `${facts.server}/${facts.tool}`),
      attrs: {
        category: facts.action_category,
        server: facts.server,
        name: facts.tool,
        annotations: toolAnnotations(facts.tool_annotations) as cedar.CedarValueJson,
      },
      parents: [uid('ToolCategory', facts.action_category), uid('Server', facts.server)],
    },
    ...resource,
  ];
}

type Scope = { op: string; in?: unknown };

/**
 * Whether a policy can observe any entity's attributes or ancestors. Conservative: it is enough
 * to name `principal` or `resource` in a condition, to read `context.user`, `context.chain` or a
 * member named like a resource type (upper-case first: `context.Document`), to
 * write any entity literal but an action, or to scope principal or resource with `in`. A policy
 * that does none of these decides the same with or without entities, so a set of such policies
 * (the starter set, every set written before entities) is evaluated with none, at today's cost.
 */
export function reachesEntities(policy: cedar.PolicyJson): boolean {
  const scoped = (s: Scope) => s.op === 'in' || (s.op === 'is' && s.in !== undefined);
  return scoped(policy.principal as Scope) || scoped(policy.resource as Scope) || policy.conditions.some((c) => reaches(c.body));
}

function reaches(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(reaches);
  if (!node || typeof node !== 'object') return false;
  const n = node as Record<string, unknown>;
  if (n.Var === 'principal' || n.Var === 'resource') return true;
  if (typeof n.attr === 'string' && (n.attr === 'user' || n.attr === 'chain' || /^[A-Z]/.test(n.attr))) return true;
  const entity = n.__entity as { type?: string } | undefined;
  if (entity && typeof entity === 'object' && !/(^|::)Action$/.test(entity.type ?? '')) return true;
  return Object.values(n).some(reaches);
}

/**
 * The context members a policy reads (`context.<member>` or `context has <member>`), so that the
 * members dear to build (the chain's delegations, the human's entitlement) are built only for a
 * set that reads them. `context` used any other way (never in practice) reads every member: "*".
 */
export function contextMembersRead(policy: cedar.PolicyJson): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown, parent?: Record<string, unknown>): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n));
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.Var === 'context') {
      // Reached only through an access below: any other use of context reads all of it.
      if (!parent || typeof parent.attr !== 'string') found.add('*');
      return;
    }
    for (const key of ['.', 'has'] as const) {
      const access = n[key] as { left?: unknown; attr?: unknown } | undefined;
      if (access && typeof access === 'object' && typeof access.attr === 'string' && (access.left as { Var?: string })?.Var === 'context') {
        found.add(access.attr);
        return;
      }
    }
    for (const value of Object.values(n)) visit(value, n);
  };
  policy.conditions.forEach((c) => visit(c.body));
  return found;
}
