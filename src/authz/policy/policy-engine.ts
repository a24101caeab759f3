/**
 * The policy decision point's core: Cedar policies (via cedar-wasm), pre-parsed once per policy
 * set, evaluated per call with the facts as context. Plain TypeScript, no Nest, so it can be
 * table-tested and benchmarked alone.
 *
 * Semantics: deny by default; a forbid always wins; obligations are annotations on permits.
 * `@obligation("human_approval")` on a determining permit turns allow into
 * allow_with_obligations. `@step_up("true")` permits only add obligations: a call that nothing
 * else permits is denied, never routed to approval.
 */
import { randomUUID } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { APPROVER_REF } from '../../approvals/park-approval.command';
import { CallFacts, CEDAR_SCHEMA } from './cedar-schema';

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
}
export interface SampledReviewObligation {
  type: 'sampled_review';
  rate: number;
}
export type Obligation = HumanApprovalObligation | SampledReviewObligation;

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

export class PolicyEngine {
  private constructor(
    private readonly policySetId: string,
    private readonly meta: Map<string, PolicyMeta>,
  ) {}

  /** Parses and validates a policy set (one policy per id); returns the validator's messages on failure. */
  static compile(policies: Record<string, string>): { engine: PolicyEngine } | { errors: string[] } {
    const errors: string[] = [];
    const meta = new Map<string, PolicyMeta>();
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
    }
    if (errors.length) return { errors };
    const validation = cedar.validate({ schema: CEDAR_SCHEMA, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
    if (validation.type !== 'success') return { errors: messages(validation.errors) };
    if (validation.validationErrors.length) {
      return { errors: validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`) };
    }
    const annotationErrors = [...meta].flatMap(([id, m]) => checkAnnotations(id, m));
    if (annotationErrors.length) return { errors: annotationErrors };
    const policySetId = randomUUID();
    const parsed = cedar.preparsePolicySet(policySetId, { staticPolicies: policies });
    if (parsed.type !== 'success') return { errors: messages(parsed.errors) };
    return { engine: new PolicyEngine(policySetId, meta) };
  }

  /** Pure: the same facts always give the same decision; nothing is recorded. */
  evaluate(facts: CallFacts): PolicyDecision {
    const { agent_id, amount, ...rest } = facts;
    const answer = cedar.statefulIsAuthorized({
      principal: { type: 'Agent', id: agent_id },
      action: { type: 'Action', id: 'call_tool' },
      resource: { type: 'Tool', id: `${facts.server}/${facts.tool}` },
      context: { ...rest, has_amount: amount !== null, amount: amount ?? 0 },
      preparsedPolicySetId: this.policySetId,
      entities: [],
    });
    if (answer.type !== 'success') {
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
  if (a.obligation && !a.approvers) errors.push(`${id}: @obligation("human_approval") needs @approvers`);
  if (a.approvers && a.quorum) {
    const named = a.approvers.split(',').map((x) => x.trim());
    if (!named.some((x) => x.startsWith('group:')) && Number(a.quorum) > new Set(named).size) {
      errors.push(`${id}: @quorum(${a.quorum}) is more than the ${new Set(named).size} approver(s) named`);
    }
  }
  return errors;
}

const minimum = (annotations: Record<string, string>[], key: string): number | undefined => {
  const values = annotations.map((a) => Number(a[key])).filter((n) => n > 0);
  return values.length ? Math.min(...values) : undefined;
};

/** The earliest escalation wins; its targets are everyone any escalating permit names. */
function strictestEscalation(approvals: Record<string, string>[]): Pick<HumanApprovalObligation, 'escalate_after' | 'escalate_to'> {
  const escalating = approvals.filter((a) => a.escalate_after && a.escalate_to);
  if (!escalating.length) return {};
  return {
    escalate_after: minimum(escalating, 'escalate_after'),
    escalate_to: [...new Set(escalating.flatMap((a) => a.escalate_to.split(',').map((s) => s.trim())))].sort(),
  };
}

/** Several permits may ask for approval: the strictest combination wins. */
function mergeObligations(annotations: Record<string, string>[]): Obligation[] {
  const out: Obligation[] = [];
  const approvals = annotations.filter((a) => a.obligation === 'human_approval');
  if (approvals.length) {
    const expiries = approvals.map((a) => Number(a.expires_in)).filter((n) => n > 0);
    out.push({
      type: 'human_approval',
      // Deterministic whatever order Cedar reports the policies in: the delegator first, then by name.
      approvers: [...new Set(approvals.flatMap((a) => a.approvers.split(',').map((s) => s.trim())))].sort((x, y) =>
        x === 'delegator' ? -1 : y === 'delegator' ? 1 : x.localeCompare(y),
      ),
      quorum: Math.max(...approvals.map((a) => Number(a.quorum ?? 1))),
      ...(expiries.length ? { expires_in: Math.min(...expiries) } : {}),
      ...(approvals.find((a) => a.binding_message) ? { binding_message: approvals.find((a) => a.binding_message)!.binding_message } : {}),
      reason_required: approvals.some((a) => a.reason_required === 'true'),
      ...strictestEscalation(approvals),
      ...(minimum(approvals, 'remind_after') ? { remind_after: minimum(approvals, 'remind_after') } : {}),
      independent_approvers: approvals.some((a) => a.independent_approvers === 'true'),
    });
  }
  const rates = annotations.map((a) => Number(a.sampled_review)).filter((n) => n > 0);
  if (rates.length) out.push({ type: 'sampled_review', rate: Math.max(...rates) });
  return out;
}
