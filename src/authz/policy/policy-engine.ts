/**
 * The policy decision point's core: Cedar policies (via cedar-wasm), pre-parsed once per policy
 * set, evaluated per call with the facts as context. Plain TypeScript, no Nest, so it can be
 * table-tested and benchmarked alone.
 *
 * Semantics: deny by default; a forbid always wins; obligations are annotations on permits.
 * `@obligation("human_approval")` on a determining permit turns allow into
 * allow_with_obligations; several such permits give several obligations, all of which must be met. `@step_up("true")` permits only add obligations: a call that nothing
 * else permits is denied, never routed to approval.
 */
import { setFlagsFromString } from 'node:v8';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { APPROVER_REF } from '../../vocabulary/envelope';
import { mergeStandingOffers, StandingOffer, standingAnnotationErrors, standingOfferOf } from '../../vocabulary/standing-offer';
import { CALL_TOOL, widenCallTool } from '../catalogue/tenant-schema';
import { CallFacts, CEDAR_SCHEMA, HumanEntitlementFacts } from './cedar-schema';
import { delegationContext } from './delegation-facts';
import { contextMembersRead, decisionEntities, entityContext, reachesEntities } from './entities';

// V8 11 (Node 20) dies with "unreachable code" in Deoptimizer::DoComputeBuiltinContinuation when
// optimized code that inlined a call into wasm is deoptimized on the way back from it. compile()
// calls cedar 80 times per 39-policy set; after a few hundred compiles (~115 publishes) the
// service crashed. Not inlining JS-to-wasm calls avoids that frame; the cost is a wrapper call.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export type Verdict = 'allow' | 'deny' | 'allow_with_obligations';

export interface HumanApprovalObligation {
  type: 'human_approval';
  approvers: string[];
  quorum: number;
  expires_in?: number;
  binding_message?: string;
  reason_required: boolean;
  /** Seconds undecided before `escalate_to` are notified. */
  escalate_after?: number;
  escalate_to?: string[];
  remind_after?: number;
  /** Separation of duties: the delegating human and the agent's operator may not approve. */
  independent_approvers: boolean;
  /** Standing approvals the approver may grant (`@standing`, `@standing_max_seconds`, `@standing_max_uses`, `@standing_pin`). */
  standing?: StandingOffer;
  /** `@proof("passkey")`: each vote must be a WebAuthn assertion by the approver's passkey over the decision. */
  proof?: 'passkey';
}
export interface SampledReviewObligation {
  type: 'sampled_review';
  rate: number;
  /** Who reviews a sampled call (`@reviewers`, as approvers are named); the delegator when no policy names any. */
  reviewers: string[];
}
export type Obligation = HumanApprovalObligation | SampledReviewObligation;

/** A tenant's catalogue, for compile: its schema (base + one action per tool), which policies are validated against. */
export interface CatalogueSchema {
  schema: cedar.SchemaJson<string>;
  /**
   * @deprecated Ignored. Evaluation no longer passes the schema to Cedar (parsing each call's
   * context and entities against it cost more than the rest of the decision); the tool's action
   * reaches `call_tool` through an Action entity instead (see evaluate).
   */
  schemaName?: string;
}

/** A catalogued call: its tool's action and its typed input (context.input). */
export interface ToolCall {
  action: string;
  input: Record<string, unknown>;
}

export interface PolicyDecision {
  verdict: Verdict;
  obligations: Obligation[];
  determining_policies: string[];
  reasons: string[];
}

interface PolicyMeta {
  effect: 'permit' | 'forbid';
  annotations: Record<string, string>;
}

function messages(errors: { message: string; help?: string | null }[]): string[] {
  return errors.map((e) => (e.help ? `${e.message} (${e.help})` : e.message));
}

/**
 * Cedar keeps pre-parsed policy sets in a map inside the wasm memory, keyed by id, and has no call
 * to remove one: a set pre-parsed under an id that is never used again stays for the life of the
 * process (~0.1 MB for 39 policies; after ~115 publishes V8 died). So ids come from a pool: a
 * released engine's id is overwritten with an empty set, which frees its policies, and handed to
 * the next compile. The ids ever used, and the sets held, are bounded by the engines alive at once.
 */
const EMPTY_SET = { staticPolicies: {} };
const freeIds: string[] = [];
let idsCreated = 0;

function preparse(policies: Record<string, cedar.Policy>): { id: string } | { errors: string[] } {
  const id = freeIds.pop() ?? `policy-set-${++idsCreated}`;
  const parsed = cedar.preparsePolicySet(id, { staticPolicies: policies });
  if (parsed.type !== 'success') {
    freeIds.push(id);
    return { errors: messages(parsed.errors) };
  }
  return { id };
}

function releaseId(id: string): void {
  cedar.preparsePolicySet(id, EMPTY_SET);
  freeIds.push(id);
}

/** An engine dropped without release() (tests, one-off compiles) gives its id back when collected. */
const collected = new FinalizationRegistry<string>(releaseId);

type Checked = { meta: Map<string, PolicyMeta>; sources: Record<string, cedar.Policy>; usesEntities: boolean; reads: Set<string> } | { errors: string[] };

const NONE_RECORDED: HumanEntitlementFacts = { recorded: false, covers_call: true, tools: [] };

/** Context members built only for a set that reads them (their facts cost a lookup or a conversion). */
export const ON_DEMAND_MEMBERS = ['delegation', 'delegation_chain', 'human_entitlement', 'agent_flags', 'autonomy'] as const;
export type OnDemandMember = (typeof ON_DEMAND_MEMBERS)[number];

export class PolicyEngine {
  private preparsedId: string | undefined;

  private constructor(
    /** The policies as pre-parsed (under a catalogue, with call_tool widened). */
    private readonly policies: Record<string, cedar.Policy>,
    private readonly meta: Map<string, PolicyMeta>,
    preparsedId: string,
    /** Some policy can observe an entity's attributes or ancestors: only then are entities built (entities.ts). */
    readonly usesEntities = false,
    /** The context members its policies read ("*": all of them). */
    private readonly reads: Set<string> = new Set(),
  ) {
    this.hold(preparsedId);
  }

  /** Checks a policy set (one policy per id) without compiling it: the validator's messages, none when it is valid. */
  static validate(policies: Record<string, string>, catalogue?: CatalogueSchema): string[] {
    const checked = PolicyEngine.check(policies, catalogue);
    return 'errors' in checked ? checked.errors : [];
  }

  /** Parses, validates and pre-parses a policy set (one policy per id); returns the validator's messages on failure. */
  static compile(policies: Record<string, string>, catalogue?: CatalogueSchema): { engine: PolicyEngine } | { errors: string[] } {
    const checked = PolicyEngine.check(policies, catalogue);
    if ('errors' in checked) return checked;
    const parsed = preparse(checked.sources);
    if ('errors' in parsed) return parsed;
    return { engine: new PolicyEngine(checked.sources, checked.meta, parsed.id, checked.usesEntities, checked.reads) };
  }

  /** Pre-parsed sets: `ids` ever created in this process, `held` of them holding an engine's policies now. */
  static preparsedSets(): { ids: number; held: number } {
    return { ids: idsCreated, held: idsCreated - freeIds.length };
  }

  /**
   * Frees the pre-parsed set. Call it when the engine leaves the cache; a caller that fetched the
   * engine just before (a request in flight during an activation) may still evaluate with it: the
   * set is then parsed again, and freed when the engine is collected.
   */
  release(): void {
    if (this.preparsedId === undefined) return;
    collected.unregister(this);
    releaseId(this.preparsedId);
    this.preparsedId = undefined;
  }

  private hold(id: string): void {
    this.preparsedId = id;
    collected.register(this, id, this);
  }

  private get policySetId(): string {
    if (this.preparsedId === undefined) {
      const parsed = preparse(this.policies);
      if ('errors' in parsed) throw new Error(`a compiled policy set no longer pre-parses: ${parsed.errors.join('; ')}`);
      this.hold(parsed.id);
    }
    return this.preparsedId!;
  }

  private static check(policies: Record<string, string>, catalogue?: CatalogueSchema): Checked {
    const errors: string[] = [];
    const meta = new Map<string, PolicyMeta>();
    let usesEntities = false;
    const reads = new Set<string>();
    for (const [id, text] of Object.entries(policies)) {
      const parts = cedar.policySetTextToParts(text);
      if (parts.type !== 'success') {
        errors.push(...messages(parts.errors).map((m) => `${id}: ${m}`));
        continue;
      }
      if (parts.policies.length !== 1 || parts.policy_templates.length) {
        errors.push(`${id}: must contain exactly one static policy (found ${parts.policies.length})`);
        continue;
      }
      const json = cedar.policyToJson(text);
      if (json.type !== 'success') {
        errors.push(...messages(json.errors).map((m) => `${id}: ${m}`));
        continue;
      }
      meta.set(id, { effect: json.json.effect, annotations: (json.json.annotations ?? {}) as Record<string, string> });
      usesEntities ||= reachesEntities(json.json);
      for (const member of contextMembersRead(json.json)) reads.add(member);
    }
    if (errors.length) return { errors };
    // Under a catalogue, `action == Action::"call_tool"` covers every tool's action too (tenant-schema.ts).
    const sources = catalogue ? widenCallTool(policies) : policies;
    const validation = cedar.validate({
      schema: catalogue?.schema ?? CEDAR_SCHEMA,
      policies: { staticPolicies: sources },
      validationSettings: { mode: 'strict' },
    });
    if (validation.type !== 'success') return { errors: messages(validation.errors) };
    if (validation.validationErrors.length) {
      return { errors: validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`) };
    }
    // A policy the validator proves can never apply is a mistake (a misspelt member after `has`, a
    // resource type that is not declared, an `is` of the wrong type); a forbid would silently not apply.
    const impossible = validation.validationWarnings.filter((w) => /policy is impossible/.test(w.error.message));
    if (impossible.length) return { errors: impossible.map((w) => `${w.policyId}: ${w.error.message}`) };
    const annotationErrors = [...meta].flatMap(([id, m]) => checkAnnotations(id, m));
    if (annotationErrors.length) return { errors: annotationErrors };
    return { meta, sources, usesEntities, reads };
  }

  /** Does some policy of the set read this context member? Its facts need be gathered only then. */
  observes(member: OnDemandMember): boolean {
    return this.reads.has(member) || this.reads.has('*');
  }

  /**
   * The context as Cedar needs it: only the members some policy reads. Cedar converts every member
   * it is given, whether read or not, and that conversion was most of a decision's cost (a datetime
   * alone ~60 µs); a member no policy reads cannot change the decision.
   */
  private membersRead(context: cedar.Context): cedar.Context | undefined {
    if (this.reads.has('*')) return context;
    const read: cedar.Context = {};
    for (const [member, value] of Object.entries(context)) {
      if (this.reads.has(member)) read[member] = value;
      // Fail closed as before: a number Cedar cannot hold denies the call, read or not.
      else if (!holdsOnlyCedarNumbers(value)) return undefined;
    }
    return read;
  }

  /**
   * Pure: the same facts always give the same decision; nothing is recorded.
   *
   * No schema is passed to Cedar: the policies were validated strictly against it when compiled,
   * and every value that needs a type travels in Cedar's explicit form (decimals and datetimes as
   * `__extn`, entity references as `__entity`), so nothing depends on schema-directed parsing.
   * The one thing the schema gave evaluation is a catalogued tool's action as a member of
   * `Action::"call_tool"`; that travels as an Action entity with that parent.
   */
  evaluate(facts: CallFacts, call?: ToolCall): PolicyDecision {
    const {
      agent_id,
      amount,
      operator: _operator,
      user: _user,
      upstream: _upstream,
      tool_annotations: _annotations,
      resource: _resource,
      delegations: _delegations,
      human_entitlement,
      ...rest
    } = facts;
    const context = this.membersRead({
      ...rest,
      has_amount: amount !== null,
      amount: amount ?? 0,
      ...entityContext(facts),
      ...(this.observes('delegation') || this.observes('delegation_chain') ? delegationContext(facts) : {}),
      // Absent from the facts: none recorded (unrestricted), as the built-in reads it.
      ...(this.observes('human_entitlement') ? { human_entitlement: (human_entitlement ?? NONE_RECORDED) as unknown as cedar.CedarValueJson } : {}),
      ...(call ? { input: call.input as cedar.CedarValueJson } : {}),
    });
    const answer = context
      ? cedar.statefulIsAuthorized({
          principal: { type: 'Agent', id: agent_id },
          action: { type: 'Action', id: call?.action ?? 'call_tool' },
          resource: { type: 'Tool', id: `${facts.server}/${facts.tool}` },
          context,
          preparsedPolicySetId: this.policySetId,
          entities: [...(this.usesEntities ? decisionEntities(facts) : []), ...(call ? [toolActionEntity(call.action)] : [])],
        })
      : undefined;
    if (answer?.type !== 'success') {
      return { verdict: 'deny', obligations: [], determining_policies: [], reasons: ['policy_evaluation_failed'] };
    }
    // Cedar reports these from a hash set, in an order that varies from call to call; sort so the
    // same facts always give the same decision (reasons, audit, and which binding_message wins).
    const determining = [...answer.response.diagnostics.reason].sort();
    const errored = answer.response.diagnostics.errors.map((e) => `policy_error:${e.policyId}`).sort();
    // Cedar skips a policy whose condition errors; if that policy was a forbid, the call would
    // slip through. Fail closed: any evaluation error denies.
    if (errored.length) return { verdict: 'deny', obligations: [], determining_policies: determining, reasons: ['policy_error', ...errored] };
    if (answer.response.decision === 'deny') {
      const reasons = determining.map((id) => this.meta.get(id)?.annotations.reason ?? id);
      return { verdict: 'deny', obligations: [], determining_policies: determining, reasons: reasons.length ? reasons : ['no_permit'] };
    }
    const granting = determining.filter((id) => this.meta.get(id)?.annotations.step_up !== 'true');
    if (granting.length === 0) {
      return { verdict: 'deny', obligations: [], determining_policies: [], reasons: ['no_permit'] };
    }
    const obligations = mergeObligations(determining.map((id) => this.meta.get(id)!.annotations));
    const approval = obligations.some((o) => o.type === 'human_approval');
    const reasons = determining.map((id) => this.meta.get(id)?.annotations.reason ?? id);
    return { verdict: approval ? 'allow_with_obligations' : 'allow', obligations, determining_policies: determining, reasons };
  }
}

/** Cedar's numbers are 64-bit integers: NaN, infinities, fractions and anything past ±2^63 fail its parse of the context. */
function holdsOnlyCedarNumbers(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 2 ** 63;
  if (Array.isArray(value)) return value.every(holdsOnlyCedarNumbers);
  if (value && typeof value === 'object') return Object.values(value).every(holdsOnlyCedarNumbers);
  return true;
}

/**
 * A catalogued tool's action as a member of `Action::"call_tool"`, so that `action in
 * Action::"call_tool"` (and `==`, which compile widens to `in` under a catalogue) covers it.
 */
function toolActionEntity(action: string): cedar.EntityJson {
  return { uid: { type: 'Action', id: action }, attrs: {}, parents: [{ type: 'Action', id: CALL_TOOL }] };
}

function checkAnnotations(id: string, m: PolicyMeta): string[] {
  const a = m.annotations;
  const errors: string[] = [];
  if (a.obligation && a.obligation !== 'human_approval') errors.push(`${id}: @obligation must be "human_approval"`);
  if (a.obligation && m.effect !== 'permit') errors.push(`${id}: @obligation belongs on a permit`);
  if (a.quorum && !/^[1-9][0-9]?$/.test(a.quorum)) errors.push(`${id}: @quorum must be a number from 1 to 99`);
  if (a.expires_in && !/^[1-9][0-9]{0,6}$/.test(a.expires_in)) errors.push(`${id}: @expires_in must be a number of seconds`);
  if (a.sampled_review && !(Number(a.sampled_review) > 0 && Number(a.sampled_review) <= 1)) errors.push(`${id}: @sampled_review must be in (0, 1]`);
  if (a.approvers && !a.approvers.split(',').every((s) => APPROVER_REF.test(s.trim()))) {
    errors.push(`${id}: @approvers must list "delegator", "user:<id>" or "group:<name>", comma-separated`);
  }
  for (const timer of ['escalate_after', 'remind_after']) {
    if (a[timer] && !/^[1-9][0-9]{0,6}$/.test(a[timer])) errors.push(`${id}: @${timer} must be a number of seconds`);
  }
  if (a.reviewers && !a.reviewers.split(',').every((s) => APPROVER_REF.test(s.trim()))) {
    errors.push(`${id}: @reviewers must list "delegator", "user:<id>" or "group:<name>", comma-separated`);
  }
  if (a.reviewers && !a.sampled_review) errors.push(`${id}: @reviewers goes with @sampled_review`);
  if (a.escalate_to && !a.escalate_to.split(',').every((s) => APPROVER_REF.test(s.trim()))) {
    errors.push(`${id}: @escalate_to must list "delegator", "user:<id>" or "group:<name>", comma-separated`);
  }
  if (!!a.escalate_after !== !!a.escalate_to) errors.push(`${id}: @escalate_after and @escalate_to go together`);
  if (a.independent_approvers && !['true', 'false'].includes(a.independent_approvers)) {
    errors.push(`${id}: @independent_approvers must be "true" or "false"`);
  }
  if (a.independent_approvers === 'true' && [a.approvers, a.escalate_to].some((l) => l?.split(',').some((x) => x.trim() === 'delegator'))) {
    errors.push(`${id}: @independent_approvers("true") excludes "delegator" from the approvers`);
  }
  errors.push(...standingAnnotationErrors(id, a));
  if (a.proof !== undefined && a.proof !== 'passkey') errors.push(`${id}: @proof must be "passkey"`);
  if (a.proof !== undefined && a.obligation !== 'human_approval') errors.push(`${id}: @proof belongs on an @obligation("human_approval") permit`);
  if (a.obligation && !a.approvers) errors.push(`${id}: @obligation("human_approval") needs @approvers`);
  if (a.approvers && a.quorum) {
    const named = a.approvers.split(',').map((x) => x.trim());
    if (!named.some((x) => x.startsWith('group:')) && Number(a.quorum) > new Set(named).size) {
      errors.push(`${id}: @quorum(${a.quorum}) is more than the ${new Set(named).size} approver(s) named`);
    }
  }
  return errors;
}

const refs = (list: string | undefined): string[] =>
  // Deterministic whatever order a policy names them in: the delegator first, then by name.
  [
    ...new Set(
      (list ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  ].sort((x, y) => (x === 'delegator' ? -1 : y === 'delegator' ? 1 : x.localeCompare(y)));

function approvalOf(a: Record<string, string>): HumanApprovalObligation {
  return {
    type: 'human_approval',
    approvers: refs(a.approvers),
    quorum: Number(a.quorum ?? 1),
    ...(Number(a.expires_in) > 0 ? { expires_in: Number(a.expires_in) } : {}),
    ...(a.binding_message ? { binding_message: a.binding_message } : {}),
    reason_required: a.reason_required === 'true',
    ...(a.escalate_after && a.escalate_to ? { escalate_after: Number(a.escalate_after), escalate_to: refs(a.escalate_to) } : {}),
    ...(Number(a.remind_after) > 0 ? { remind_after: Number(a.remind_after) } : {}),
    independent_approvers: a.independent_approvers === 'true',
    ...(standingOfferOf(a) ? { standing: standingOfferOf(a) } : {}),
    ...(a.proof === 'passkey' ? { proof: 'passkey' as const } : {}),
  };
}

const sameControl = (x: HumanApprovalObligation, y: HumanApprovalObligation): boolean =>
  x.quorum === y.quorum &&
  x.independent_approvers === y.independent_approvers &&
  x.approvers.join(',') === y.approvers.join(',') &&
  (x.escalate_to ?? []).join(',') === (y.escalate_to ?? []).join(',');

const earlier = (x?: number, y?: number) => (x === undefined ? y : y === undefined ? x : Math.min(x, y));

/**
 * Obligations are conjunctive: every approval permit that applies keeps its own approver set,
 * quorum, escalation and separation of duties, and the parked request is approved only when each
 * one is met (see approvals/approver-sets.ts). Merging them into one set (the union of approvers
 * with the highest quorum) would let the approvers of one policy stand in for another's. Only the
 * same control asked for by two policies (same approvers, quorum, escalation targets and
 * independence) is listed once, with the stricter of their timers and wording.
 */
function mergeObligations(annotations: Record<string, string>[]): Obligation[] {
  const approvals: HumanApprovalObligation[] = [];
  for (const next of annotations.filter((a) => a.obligation === 'human_approval').map(approvalOf)) {
    const i = approvals.findIndex((o) => sameControl(o, next));
    if (i < 0) {
      approvals.push(next);
      continue;
    }
    const o = approvals[i];
    const expires_in = earlier(o.expires_in, next.expires_in);
    const escalate_after = earlier(o.escalate_after, next.escalate_after);
    const remind_after = earlier(o.remind_after, next.remind_after);
    const binding_message = o.binding_message ?? next.binding_message;
    // The stricter: a proof either policy asks for.
    const proof = o.proof ?? next.proof;
    const standing = mergeStandingOffers([o.standing, next.standing]);
    const { standing: _both, ...control } = o;
    approvals[i] = {
      ...control,
      ...(standing ? { standing } : {}),
      ...(expires_in !== undefined ? { expires_in } : {}),
      ...(binding_message !== undefined ? { binding_message } : {}),
      ...(proof ? { proof } : {}),
      reason_required: o.reason_required || next.reason_required,
      ...(escalate_after !== undefined ? { escalate_after } : {}),
      ...(remind_after !== undefined ? { remind_after } : {}),
    };
  }
  const out: Obligation[] = [...approvals];
  const sampling = annotations.filter((a) => Number(a.sampled_review) > 0);
  if (sampling.length) {
    // The highest rate; every sampling policy's reviewers (the delegator for one that names none).
    const reviewers = refs(sampling.map((a) => a.reviewers ?? 'delegator').join(','));
    out.push({ type: 'sampled_review', rate: Math.max(...sampling.map((a) => Number(a.sampled_review))), reviewers });
  }
  return out;
}
