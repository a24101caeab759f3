/**
 * The policy decision point's entry: verifies who is acting for whom, resolves the delegation
 * chain, gathers the facts and risk signals, evaluates the tenant's active policy set, parks the
 * call when a human must approve, and audits every decision with its full input.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { randomUUID } from 'node:crypto';
import { TRUST_LEVELS } from '../vocabulary/envelope';
import { HUMAN_DISABLED, NOT_DELEGATED, NOT_ENTITLED, TOOL_NOT_IN_CATALOGUE } from '../vocabulary/reason-codes';
import { ParkApproval, ParkedApproval } from '../approvals/park-approval.usecase';
import { CallUnderStanding, StandingApprovals, UsedStandingApproval } from '../approvals/standing/standing-approvals.service';
import { mergeStandingOffers, StandingScope } from '../approvals/standing/standing-terms';
import { AuditBatcher } from '../audit/audit-batcher.service';
import { GatewayPrincipal } from '../common/auth/auth.decorators';
import { InvalidRequest, UnmetObligation } from '../common/errors/protocol-errors';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AgentIdentity, AgentIdentityVerifier } from './agent-identity.verifier';
import { AuthorizeInput } from './authorize.command';
import { amountOf, hasExternalDestination, isBulk } from './call-facts';
import { toolAction } from './catalogue/tenant-schema';
import { catalogueCall, outsideCatalogue } from './catalogue/tool-call';
import type { Delegation } from './delegations/delegation.entity';
import { Delegations } from './delegations/delegations.service';
import { UserDirectory } from './people/user-directory.port';
import { ActivePolicy, PolicyStore } from './policies/policy-store.service';
import { CallFacts, DelegationFacts, UserFacts } from './policy/cedar-schema';
import { DecisionClock, decisionClock, tenantTimeZone, timeFacts } from './policy/decision-time';
import { chainCovers, grantCovers, Hop, HopGrant } from './policy/delegation-chain';
import { normalizeIntent, toolCategory } from './policy/intent';
import { HumanApprovalObligation, Obligation, PolicyDecision, ToolCall, Verdict } from './policy/policy-engine';
import { registeredResourceFacts, ResourceRegistry } from './resources/resource-registry.service';
import { RiskSignals } from './risk-signals.service';
import { GraduatedAutonomy, kindOf } from './autonomy/autonomy.service';
import { SampledReviews, SampleOutcome } from './reviews/sampled-reviews.service';
import { SampledReviewObligation } from './policy/policy-engine';

export interface AuthorizationResult {
  verdict: Verdict;
  decision_id: string;
  policy: { id: string; version: number };
  determining_policies: string[];
  reasons: string[];
  obligations: Obligation[];
  approval?: ParkedApproval;
  /** The standing approval that allowed the call instead of a new request (reason standing_approval). */
  standing_approval?: UsedStandingApproval;
  /** An allowed call under a sampled_review obligation: its sample, and its review when sampled. */
  sampled_review?: SampleOutcome;
}

/** The reason code of a call allowed by a standing approval instead of a new approval request. */
export const STANDING_APPROVAL = 'standing_approval';

/** A parked call as the redeem repeats its decision: what /v1/authorize decided on, as stored with the request. */
export interface ParkedCall {
  /** The facts it was decided on (the agent token is not kept; these carry its verified claims). */
  facts: CallFacts;
  /** The agents, current actor first, as the token's act chain named them. */
  actors: string[];
  human: string;
  action: { server: string; tool: string; arguments: Record<string, unknown> };
  resourceId?: string;
}

export interface Reevaluated {
  decision: PolicyDecision;
  policy_version: number;
  clock: DecisionClock;
  facts: CallFacts;
}

type ResolvedChain = { ok: true; hops: Hop[]; leafDelegationId: string; delegations: DelegationFacts[] } | { ok: false; problem: string };

/** One hop's delegation as policies read it (context.delegation, policy/delegation-facts.ts). */
function delegationFacts(d: Delegation): DelegationFacts {
  return {
    id: d.id,
    purpose: d.purpose,
    granted_at: d.createdAt.toISOString(),
    not_before: d.notBefore?.toISOString() ?? null,
    expires_at: d.expiresAt?.toISOString() ?? null,
    tools: d.tools,
    resources: d.resources,
  };
}

/**
 * The facts gathered only for a set that reads them (see PolicyEngine.observes): the hops'
 * delegations, as in force now (a broken chain has none).
 */
function onDemandFacts(
  policy: ActivePolicy,
  chain: ResolvedChain,
  own: { entitlements: HopGrant | null; server: string; tool: string; resourceId?: string },
): Pick<CallFacts, 'delegations' | 'human_entitlement'> {
  const engine = policy.engine;
  const e = own.entitlements;
  return {
    ...(engine.observes('delegation') || engine.observes('delegation_chain') ? { delegations: chain.ok ? chain.delegations : [] } : {}),
    ...(engine.observes('human_entitlement')
      ? {
          human_entitlement: {
            recorded: e !== null,
            covers_call: entitledTo(e, own.server, own.tool, own.resourceId),
            tools: e ? [...new Set(e.tools)].sort() : [],
            ...(e?.resources ? { resources: [...new Set(e.resources)].sort() } : {}),
          },
        }
      : {}),
  };
}

interface Evaluation {
  decision: PolicyDecision;
  facts?: CallFacts;
  identity?: AgentIdentity;
  delegationId?: string;
  policy: ActivePolicy;
  session: string;
  /** Which clock the call was judged at (the gateway's observed_at or the service's). */
  clock: DecisionClock;
}

@Injectable()
export class Authorize {
  constructor(
    private readonly identities: AgentIdentityVerifier,
    private readonly delegations: Delegations,
    private readonly policies: PolicyStore,
    private readonly risk: RiskSignals,
    private readonly users: UserDirectory,
    private readonly audit: AuditBatcher,
    private readonly park: ParkApproval,
    private readonly resources: ResourceRegistry,
    private readonly standing: StandingApprovals,
    private readonly reviews: SampledReviews,
    private readonly autonomy: GraduatedAutonomy,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional() private readonly metrics?: DomainMetrics,
  ) {}

  async execute(gateway: GatewayPrincipal, input: AuthorizeInput): Promise<AuthorizationResult> {
    const started = performance.now();
    const decisionId = `dec_${randomUUID()}`;
    const evaluation = await this.evaluate(gateway.tenantId, input, { dryRun: false });
    let { decision } = evaluation;
    let approval: ParkedApproval | undefined;

    // Conjunctive: the parked request carries every approval obligation as its own approver set.
    const approvalObligations = decision.obligations.filter((o): o is HumanApprovalObligation => o.type === 'human_approval');
    let unroutable: { field: string; message: string } | undefined;
    // Evaluated in full first: a standing approval stands in for the approval obligations only,
    // where the policy (as active now) still offers one; a forbid or a broken chain has denied already.
    const standingOffer = decision.verdict === 'allow_with_obligations' ? mergeStandingOffers(approvalObligations.map((o) => o.standing)) : undefined;
    const standingUsed =
      standingOffer && evaluation.identity
        ? await this.standing.consume(this.underStanding(gateway.tenantId, input, evaluation, standingOffer.scopes))
        : undefined;
    if (standingUsed) {
      decision = {
        ...decision,
        verdict: 'allow',
        obligations: decision.obligations.filter((o) => o.type !== 'human_approval'),
        reasons: [STANDING_APPROVAL, ...decision.reasons],
      };
    }
    if (decision.verdict === 'allow_with_obligations' && approvalObligations.length) {
      try {
        approval = await this.park.execute({
          tenantId: gateway.tenantId,
          gatewayId: gateway.gatewayId,
          input: this.parkInput(input, evaluation, approvalObligations, decisionId),
          // So that the redeem knows there is a decision to repeat (reevaluate below).
          decisionId,
          standingOffer,
          // A passkey asked for by any applying approval permit binds every vote on the call.
          ...(approvalObligations.some((o) => o.proof === 'passkey') ? { proof: 'passkey' as const } : {}),
        });
      } catch (e) {
        // The policy's obligation names approvers nobody can be (unknown, an empty group, too few
        // for the quorum): fail closed with a reason rather than park a call nobody can answer.
        if (!(e instanceof UnmetObligation)) throw e;
        unroutable = { field: String(e.extra.field), message: e.description };
        decision = { ...decision, verdict: 'deny', obligations: [], reasons: [...decision.reasons, 'approvers_unavailable'] };
      }
    }

    // Allowed under a sampled review: the sample is drawn from the decision id, and a sampled call's review is queued.
    const sampling = decision.verdict === 'allow' ? decision.obligations.find((o): o is SampledReviewObligation => o.type === 'sampled_review') : undefined;
    const sampled =
      sampling && evaluation.facts
        ? await this.reviews.sample({
            tenantId: gateway.tenantId,
            decisionId,
            obligation: sampling,
            facts: evaluation.facts,
            arguments: input.action.arguments,
            resourceId: input.resource.id ?? null,
            mcpSessionId: input.correlation.mcp_session_id ?? null,
          })
        : undefined;

    // The decision's audit row (durable before we answer) and the session's counters, side by side.
    const audited = this.audit.append({
      tenantId: gateway.tenantId,
      type: 'authz.decision',
      actor: `gateway:${gateway.gatewayId}`,
      approvalId: approval?.auth_req_id ?? standingUsed?.approval_id ?? null,
      agentId: evaluation.identity?.actors[0] ?? null,
      delegatorId: evaluation.identity?.human ?? null,
      mcpSessionId: input.correlation.mcp_session_id ?? null,
      a2aInteractionId: input.correlation.a2a_interaction_id ?? null,
      requestId: input.correlation.request_id ?? null,
      data: {
        decision_id: decisionId,
        verdict: decision.verdict,
        policy_version: evaluation.policy.version,
        determining_policies: decision.determining_policies,
        reasons: decision.reasons,
        obligations: decision.obligations,
        // The envelope as sent, but the agent's credential only as its verified claims.
        input: { ...input, agent: { claims: evaluation.identity?.claims ?? null } },
        facts: evaluation.facts ?? null,
        clock: evaluation.clock,
        delegation_id: evaluation.delegationId ?? null,
        ...(unroutable ? { approvers_unavailable: unroutable } : {}),
        ...(standingUsed ? { standing_approval: { ...standingUsed } } : {}),
        ...(sampled ? { sampled_review: { ...sampled } } : {}),
      },
    });
    await Promise.all([audited, this.risk.record(gateway.tenantId, evaluation.session, decision.verdict)]);
    this.metrics?.decision(decision.verdict, decision.reasons, (performance.now() - started) / 1000);
    return {
      verdict: decision.verdict,
      decision_id: decisionId,
      policy: { id: `${gateway.tenantId}/policy-set`, version: evaluation.policy.version },
      determining_policies: decision.determining_policies,
      reasons: decision.reasons,
      obligations: decision.obligations,
      ...(approval ? { approval } : {}),
      ...(standingUsed ? { standing_approval: standingUsed } : {}),
      ...(sampled ? { sampled_review: sampled } : {}),
    };
  }

  /**
   * The history of human judgement a decision may read (policy/history-facts.ts): the agent's
   * flagged reviews and its kind of call's autonomy, each only when the active set can observe it.
   */
  private async withHistory(tenantId: string, policy: ActivePolicy, facts: CallFacts): Promise<CallFacts> {
    const [agent_flags, autonomy] = await Promise.all([
      policy.engine.observes('agent_flags') ? this.reviews.agentFlags(tenantId, facts.agent_id) : undefined,
      policy.engine.observes('autonomy') ? this.autonomy.facts(tenantId, kindOf(facts)) : undefined,
    ]);
    return { ...facts, ...(agent_flags ? { agent_flags } : {}), ...(autonomy ? { autonomy } : {}) };
  }

  /** The call as a standing approval must match it: same agent, human, delegation, tool, resource and session. */
  private underStanding(tenantId: string, input: AuthorizeInput, evaluation: Evaluation, scopes: StandingScope[]): CallUnderStanding {
    return {
      tenantId,
      agentId: evaluation.identity!.actors[0],
      delegatorId: evaluation.identity!.human,
      // As parkInput records it: no covering delegation is none, not an empty id.
      delegationId: evaluation.delegationId || null,
      server: input.action.server,
      tool: input.action.tool,
      resourceId: input.resource.id ?? null,
      mcpSessionId: input.correlation.mcp_session_id ?? null,
      arguments: input.action.arguments,
      scopes,
    };
  }

  /** What-if: the same evaluation with no side effects (no counters, no audit, no parking). */
  async simulate(tenantId: string, input: AuthorizeInput) {
    const { decision, facts, policy } = await this.evaluate(tenantId, input, { dryRun: true });
    return { ...decision, policy: { id: `${tenantId}/policy-set`, version: policy.version }, facts: facts ?? null };
  }

  /**
   * The redeem's second look at a parked call, with the approval being redeemed counted as given:
   * the same facts, but judged now by the service's clock (no observed_at: the gateway's view of
   * when the call happened is the park's, not the redeem's), against the delegations in force now
   * and the policy set active now. A forbid, the built-in intersection or a broken chain still
   * deny; an approval obligation no longer parks (allow_with_obligations → allow). Dry run: the
   * session's counters are neither read nor bumped (its velocity is the call's, as parked), and
   * nothing is audited or parked here.
   */
  async reevaluate(tenantId: string, parked: ParkedCall): Promise<Reevaluated> {
    const { at, clock } = decisionClock(new Date(), undefined, this.config.DECISION_TIME_SKEW_SECONDS);
    const { action } = parked;
    const [policy, chain, { user, entitlements }, resource] = await Promise.all([
      this.policies.forTenant(tenantId),
      this.resolveChain(tenantId, { actors: parked.actors, human: parked.human }, action.server, action.tool, parked.resourceId),
      this.users.person(tenantId, parked.human),
      this.resources.lookup(tenantId, { id: parked.resourceId }),
    ]);
    const time = timeFacts(at, tenantTimeZone(tenantId, this.config.TENANT_TIME_ZONES, this.config.TENANT_TIME_ZONE));
    const granted = chain.ok && chainCovers(chain.hops, action.server, action.tool, parked.resourceId);
    const facts: CallFacts = await this.withHistory(tenantId, policy, {
      ...parked.facts,
      granted,
      time,
      hour_of_day: time.utc.hour,
      // The active set's categories, which a new version may have changed.
      action_category: toolCategory(action.server, action.tool, policy.toolCategories),
      // The human's groups and status as the directory has them now, and the catalogue's annotations now.
      user,
      tool_annotations: policy.catalogue?.tools.get(toolAction(action.server, action.tool))?.annotations ?? {},
      // The resource as registered now (a reclassified document counts); gone from the registry, it is no entity.
      resource: undefined,
      ...registeredResourceFacts(resource),
      // The delegations as in force now, not as parked (a facts member the active set may not read).
      delegations: undefined,
      human_entitlement: undefined,
      ...onDemandFacts(policy, chain, { entitlements, server: action.server, tool: action.tool, resourceId: parked.resourceId }),
    });
    let toolCall: ReturnType<typeof catalogueCall>;
    try {
      toolCall = catalogueCall(policy.catalogue, action);
    } catch (e) {
      // The catalogue changed under the parked call and its arguments no longer fit: not a 400 at redeem, a deny.
      if (!(e instanceof InvalidRequest)) throw e;
      return { decision: deny(['arguments_invalid']), policy_version: policy.version, clock, facts };
    }
    // As evaluate() decides: a tool removed from the catalogue, a human disabled or a delegation
    // revoked since the park deny, and a broken chain is named.
    let decision = withBrokenChain(judged(policy, facts, toolCall, { granted, entitlements, action, resourceId: parked.resourceId, user }), chain);
    if (decision.verdict === 'allow_with_obligations') {
      decision = { ...decision, verdict: 'allow', obligations: decision.obligations.filter((o) => o.type !== 'human_approval') };
    }
    return { decision, policy_version: policy.version, clock, facts };
  }

  private async evaluate(tenantId: string, input: AuthorizeInput, { dryRun }: { dryRun: boolean }): Promise<Evaluation> {
    const serviceNow = new Date();
    const { at, clock } = decisionClock(serviceNow, input.observed_at, this.config.DECISION_TIME_SKEW_SECONDS);
    // The registered resource is looked up before anything is counted: a contradicting resource.type is a 400.
    const [verified, policy, resource] = await Promise.all([
      this.identities.verify(input.agent.token, tenantId),
      this.policies.forTenant(tenantId),
      this.resources.lookup(tenantId, input.resource),
    ]);
    // A catalogued tool's arguments must match its inputSchema (else a 400); they become context.input.
    const toolCall = catalogueCall(policy.catalogue, input.action);
    // Denials for bad tokens count against the MCP session like any other denial.
    const fallbackSession = input.correlation.mcp_session_id ?? 'unidentified-agent';
    if (!verified.ok) {
      return { decision: deny([verified.reason]), policy, session: fallbackSession, clock };
    }
    const identity = verified.identity;
    const session = input.correlation.mcp_session_id ?? `agent:${identity.actors[0]}`;
    const { action } = input;

    const [chain, signals, { user, entitlements }] = await Promise.all([
      this.resolveChain(tenantId, identity, action.server, action.tool, input.resource.id),
      this.risk.observe(tenantId, session, serviceNow, dryRun),
      this.users.person(tenantId, identity.human),
    ]);
    const time = timeFacts(at, tenantTimeZone(tenantId, this.config.TENANT_TIME_ZONES, this.config.TENANT_TIME_ZONE));
    const granted = chain.ok && chainCovers(chain.hops, action.server, action.tool, input.resource.id);
    const facts: CallFacts = await this.withHistory(tenantId, policy, {
      agent_id: identity.actors[0],
      agent_class: identity.agentClass,
      trust_level: identity.trustLevel,
      human: identity.human,
      chain_length: identity.actors.length,
      granted,
      intent_category: normalizeIntent(input.intent.category, input.intent.text),
      action_category: toolCategory(action.server, action.tool, policy.toolCategories),
      server: action.server,
      tool: action.tool,
      resource_id: input.resource.id ?? '',
      resource_type: input.resource.type ?? '',
      resource_classification: input.resource.classification ?? 'internal',
      environment: input.environment ?? 'production',
      amount: amountOf(action.arguments),
      external_destination: input.risk.signals.includes('external_destination') || hasExternalDestination(action.arguments, this.config.INTERNAL_DOMAINS),
      bulk: input.risk.signals.includes('bulk') || isBulk(action.arguments),
      reason_given: !!input.reason,
      session_calls: signals.session_calls,
      prior_denials: signals.prior_denials,
      prior_step_ups: signals.prior_step_ups,
      hour_of_day: time.utc.hour,
      gateway_signals: input.risk.signals,
      time,
      network: input.risk.network?.toLowerCase() ?? '',
      velocity: signals.velocity,
      // For the entities (policy/entities.ts): the agent's operator, the human's groups, the chain, the tool's annotations.
      operator: identity.operator,
      user,
      upstream: identity.upstream,
      tool_annotations: policy.catalogue?.tools.get(toolAction(action.server, action.tool))?.annotations ?? {},
      // A registered resource: its type, classification and environment over the envelope's, and its entity.
      ...registeredResourceFacts(resource),
      ...onDemandFacts(policy, chain, { entitlements, server: action.server, tool: action.tool, resourceId: input.resource.id }),
    });
    let decision = judged(policy, facts, toolCall, { granted, entitlements, action, resourceId: input.resource.id, user });
    // An approval that demands the agent's reason cannot be asked for without one.
    const needsReason = decision.obligations.some((o) => o.type === 'human_approval' && o.reason_required);
    if (decision.verdict === 'allow_with_obligations' && needsReason && !input.reason) {
      decision = { ...decision, verdict: 'deny', obligations: [], reasons: [...decision.reasons, 'reason_required'] };
    }
    decision = withBrokenChain(decision, chain);
    return { decision, facts, identity, delegationId: chain.ok ? chain.leafDelegationId : undefined, policy, session, clock };
  }

  /** human → innermost agent → … → current agent; every hop must hold a delegation in force. */
  private async resolveChain(
    tenantId: string,
    identity: Pick<AgentIdentity, 'actors' | 'human'>,
    server: string,
    tool: string,
    resourceId?: string,
  ): Promise<ResolvedChain> {
    const chain = await this.delegations.chain(tenantId, identity);
    if (!chain.ok) return chain;
    const hops = chain.hops.map((hop) => hop.map((d) => ({ tools: d.tools, resources: d.resources })));
    // The delegation each hop rests on is the one that covers the call (a parked call is rejected
    // when the leaf's is revoked), not merely the newest grant to the agent.
    const covering = chain.hops.map((hop) => hop.find((d) => grantCovers({ tools: d.tools, resources: d.resources }, server, tool, resourceId)) ?? hop[0]);
    const leaf = covering[covering.length - 1];
    return { ok: true, hops, leafDelegationId: leaf?.id ?? '', delegations: covering.filter((d) => d !== undefined).map(delegationFacts) };
  }

  private parkInput(input: AuthorizeInput, evaluation: Evaluation, obligations: HumanApprovalObligation[], decisionId: string) {
    const identity = evaluation.identity!;
    return {
      tool_call: { server: input.action.server, tool: input.action.tool, arguments: input.action.arguments },
      agent: {
        id: identity.actors[0],
        class: identity.agentClass,
        trust_level: TRUST_LEVELS.find((level) => level === identity.trustLevel) ?? 'unknown',
        claims: identity.claims.act ? { act: (identity.claims.act as { act?: never }).act } : undefined,
        // Who runs the agent, when its token says so: separation of duties keeps them from approving.
        ...(typeof identity.claims.operator === 'string' && identity.claims.operator ? { operator: identity.claims.operator } : {}),
      },
      delegator: { id: identity.human, ...(evaluation.delegationId ? { delegation_id: evaluation.delegationId } : {}) },
      intent: input.intent,
      resource: input.resource,
      environment: input.environment,
      reason: input.reason ?? 'no reason stated',
      risk: { ...evaluation.facts, decision_id: decisionId, reasons: evaluation.decision.reasons, signals: input.risk.signals },
      obligation: parkObligation(obligations),
      delivery: input.delivery,
      correlation: input.correlation,
    };
  }
}

const earliest = (values: (number | undefined)[]): number | undefined => {
  const set = values.filter((v): v is number => v !== undefined);
  return set.length ? Math.min(...set) : undefined;
};

/**
 * Every approval obligation becomes one approver set with its own quorum, escalation targets and
 * separation of duties. What a request has only one of is the strictest: the shortest expiry,
 * the earliest escalation and reminder, the first binding message (policies in id order). One
 * denial from anyone eligible in any set denies.
 */
function parkObligation(obligations: HumanApprovalObligation[]) {
  return {
    approver_sets: obligations.map((o) => ({
      approvers: o.approvers,
      quorum: o.quorum,
      ...(o.escalate_to ? { escalate_to: o.escalate_to } : {}),
      independent_approvers: o.independent_approvers,
    })),
    deny_threshold: 1,
    expires_in: earliest(obligations.map((o) => o.expires_in)),
    binding_message: obligations.find((o) => o.binding_message)?.binding_message,
    escalate_after: earliest(obligations.map((o) => o.escalate_after)),
    remind_after: earliest(obligations.map((o) => o.remind_after)),
    independent_approvers: obligations.every((o) => o.independent_approvers),
  };
}

function deny(reasons: string[]): PolicyDecision {
  return { verdict: 'deny', obligations: [], determining_policies: [], reasons };
}

/** A policy's decision on a call no delegation covers: always a deny that names not_delegated. */
function notDelegated(decision: PolicyDecision): PolicyDecision {
  // A permit's reasons (granted_read, …) would be false in a deny; a forbid's are kept.
  if (decision.verdict !== 'deny') return deny([NOT_DELEGATED]);
  return decision.reasons.includes(NOT_DELEGATED) ? decision : { ...decision, reasons: [NOT_DELEGATED, ...decision.reasons] };
}

/** Does the human hold the call themselves? None recorded (null): unrestricted, as before entitlements. */
function entitledTo(entitlements: HopGrant | null, server: string, tool: string, resourceId?: string): boolean {
  return !entitlements || grantCovers(entitlements, server, tool, resourceId);
}

/** A policy's decision on a call outside the human's entitlements: always a deny that names not_entitled. */
function notEntitled(decision: PolicyDecision): PolicyDecision {
  if (decision.verdict !== 'deny') return deny([NOT_ENTITLED]);
  return decision.reasons.includes(NOT_ENTITLED) ? decision : { ...decision, reasons: [NOT_ENTITLED, ...decision.reasons] };
}

/**
 * A policy's decision turned into a deny naming a built-in reason (first): a permit's reasons would
 * be false in a deny and are dropped; a forbid's are kept for the audit.
 */
function builtInDeny(decision: PolicyDecision, reason: string): PolicyDecision {
  if (decision.verdict !== 'deny') return deny([reason]);
  return decision.reasons.includes(reason) ? decision : { ...decision, reasons: [reason, ...decision.reasons] };
}

/** The built-ins evaluate() and reevaluate() share beyond the chain and the entitlements: the catalogue, the human's status. */
/**
 * The tenant's set decides, and what holds whatever it says is applied on top: the intersection
 * (a call outside any hop's delegation, or outside the human's own entitlements when the directory
 * records them, is denied, so a permissive set can never widen either), a tool outside the
 * catalogue, a disabled human. The set always runs, so its own deny reasons are kept for the audit.
 */
function judged(
  policy: ActivePolicy,
  facts: CallFacts,
  toolCall: ToolCall | undefined,
  c: { granted: boolean; entitlements: HopGrant | null; action: { server: string; tool: string }; resourceId?: string; user: UserFacts },
): PolicyDecision {
  const decision = policy.engine.evaluate(facts, toolCall);
  const delegated = c.granted ? decision : notDelegated(decision);
  const entitled = entitledTo(c.entitlements, c.action.server, c.action.tool, c.resourceId) ? delegated : notEntitled(delegated);
  return builtInDenies(entitled, policy, c.action, c.user);
}

/** A broken chain is named precisely, whatever the set says about ungranted calls. */
function withBrokenChain(decision: PolicyDecision, chain: { ok: true } | { ok: false; problem: string }): PolicyDecision {
  if (chain.ok) return decision;
  return decision.verdict === 'deny' ? { ...decision, reasons: [chain.problem, ...decision.reasons] } : deny([chain.problem]);
}

function builtInDenies(decision: PolicyDecision, policy: ActivePolicy, action: { server: string; tool: string }, user: UserFacts): PolicyDecision {
  if (outsideCatalogue(policy.catalogue, action)) decision = builtInDeny(decision, TOOL_NOT_IN_CATALOGUE);
  if (user.status === 'disabled') decision = builtInDeny(decision, HUMAN_DISABLED);
  return decision;
}
