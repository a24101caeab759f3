/**
 * AuthZEN ↔ the authorization context envelope, both ways, as plain functions: an AuthZEN
 * evaluation becomes the `AuthorizeInput` that /v1/authorize takes (validated by the same
 * `authorizeSchema`, its errors renamed to the AuthZEN member that carried the value), and an
 * `AuthorizationResult` becomes an AuthZEN Decision. The mapping is documented in the README
 * ("AuthZEN Authorization API 1.0").
 */
import { AuthorizeInput, authorizeSchema } from '../authz/authorize.command';
import { AuthorizationResult } from '../authz/authorize.usecase';
import { HumanApprovalObligation } from '../authz/policy/policy-engine';
import { FieldProblem, InvalidRequest } from '../common/errors/protocol-errors';
import { parseInput } from '../common/validation';
import { AuthZenDecision, EvaluationRequest } from './authzen.schema';

/** The one subject type: the decision is about an agent, proven by its token. */
export const AGENT_SUBJECT_TYPE = 'agent';
/** A resource that is the tool itself (an MCP PEP's `tools/call` mapping, as in COAZ-MCP). */
export const TOOL_RESOURCE_TYPE = 'tool';
export const TOOLS_CALL = 'tools/call';
/**
 * The `acr_value` of the step-up obligation that stands for "a human approved this exact call":
 * a PEP that does not know it cannot comply, and so (Obligations Profile §4.4) denies: fail closed.
 */
export const HUMAN_APPROVAL_ACR = 'urn:countersign:acr:human-approval';

/** Where an AuthZEN entity of one evaluation came from: the member itself or the request's defaults. */
export type EntityPaths = Record<'subject' | 'action' | 'resource' | 'context', string>;
export const TOP_LEVEL: EntityPaths = { subject: 'subject', action: 'action', resource: 'resource', context: 'context' };

/** The envelope's fields, each named as the AuthZEN member that carries it. */
function authZenPath(field: string, paths: EntityPaths, toolFromResource: boolean): string {
  const [head, second, ...rest] = field.split('.');
  const tail = (...parts: (string | undefined)[]) => [...parts, ...rest].filter((p) => p !== undefined).join('.');
  switch (head) {
    case 'agent':
      return tail(paths.subject, 'properties', 'token');
    case 'action':
      if (second === 'tool') return toolFromResource ? `${paths.resource}.id` : `${paths.action}.name`;
      if (second === 'arguments') return tail(paths.context, 'arguments');
      return tail(paths.action, 'properties', second);
    case 'resource':
      return second === 'classification' ? tail(paths.resource, 'properties', second) : tail(paths.resource, second);
    case 'environment':
      return tail(paths.resource, 'properties', 'environment');
    case 'intent':
    case 'reason':
    case 'risk':
    case 'delivery':
    case 'correlation':
    case 'observed_at':
      return tail(paths.context, head, second);
    default:
      return field;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Unknown members are ignored (§10.1.1), in our own context members as much as at the top. */
const pick = (v: unknown, keys: string[]) => (isObject(v) ? Object.fromEntries(keys.filter((k) => v[k] !== undefined).map((k) => [k, v[k]])) : v);
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * One AuthZEN evaluation as the envelope /v1/authorize takes. The identity is never read from
 * `subject.id`: the agent's token (`subject.properties.token`) is the only source, as it is for
 * /v1/authorize; `subject.id` is checked against it by the use case.
 */
export function toAuthorizeInput(evaluation: EvaluationRequest, paths: EntityPaths = TOP_LEVEL): AuthorizeInput {
  const { subject, action, resource } = evaluation;
  const context = evaluation.context ?? {};
  if (subject.type !== AGENT_SUBJECT_TYPE) {
    throw InvalidRequest.forFields([{ field: `${paths.subject}.type`, message: `must be "${AGENT_SUBJECT_TYPE}"` }]);
  }
  const toolIsResource = resource.type === TOOL_RESOURCE_TYPE;
  const toolFromResource = toolIsResource && action.name === TOOLS_CALL;
  const candidate = defined({
    agent: { token: subject.properties?.token },
    action: defined({
      server: action.properties?.server ?? (toolIsResource ? resource.properties?.server : undefined),
      tool: toolFromResource ? resource.id : action.name,
      method: toolFromResource ? TOOLS_CALL : action.properties?.method,
      arguments: context.arguments,
    }),
    intent: pick(context.intent, ['id', 'text', 'category']),
    resource: toolIsResource ? undefined : defined({ id: resource.id, type: resource.type, classification: resource.properties?.classification }),
    environment: resource.properties?.environment,
    reason: context.reason,
    risk: pick(context.risk, ['signals', 'network']),
    delivery: pick(context.delivery, ['mode', 'notification_endpoint', 'notification_token']),
    correlation: pick(context.correlation, ['mcp_session_id', 'a2a_interaction_id', 'request_id']),
    observed_at: context.observed_at,
  });
  try {
    return parseInput(authorizeSchema, candidate);
  } catch (e) {
    if (!(e instanceof InvalidRequest)) throw e;
    const problems = (e.extra.errors as FieldProblem[]).map((p) => ({ ...p, field: authZenPath(p.field, paths, toolFromResource) }));
    throw InvalidRequest.forFields(problems);
  }
}

export interface ApprovalLinks {
  /** The service's public base URL: the approval endpoints live under it. */
  baseUrl: string;
}

/**
 * allow → `{decision: true}`; deny → false with reasons for admins and users (§5.5.2, example 1)
 * and the reason codes; a call parked for approval → false with one `step-up` obligation (Obligations
 * Profile §3, §5.1) for the one parked request, carrying the CIBA handle a PEP waits on and redeems
 * and every approver set the request must satisfy.
 */
export function toDecision(result: AuthorizationResult, links: ApprovalLinks): AuthZenDecision {
  if (result.verdict === 'allow' && result.standing_approval) {
    // Allowed by an approval a human let stand: which one, so that the PEP and the audit can tell.
    return { decision: true, context: { decision_id: result.decision_id, reasons: result.reasons, standing_approval: result.standing_approval } };
  }
  if (result.verdict === 'allow') return { decision: true };
  const base = { decision_id: result.decision_id, policy: result.policy, reasons: result.reasons };
  const approval = result.approval;
  // Conjunctive: one parked request (one auth_req_id) holds every approval as its own approver set.
  const sets = result.obligations.filter((o): o is HumanApprovalObligation => o.type === 'human_approval');
  if (result.verdict === 'allow_with_obligations' && approval && sets.length) {
    const url = `${links.baseUrl.replace(/\/+$/, '')}/v1/approvals/${approval.auth_req_id}`;
    return {
      decision: false,
      context: {
        ...base,
        obligations: [
          {
            id: approval.auth_req_id,
            type: 'step-up',
            properties: defined({
              acr_value: HUMAN_APPROVAL_ACR,
              auth_req_id: approval.auth_req_id,
              expires_in: approval.expires_in,
              interval: approval.interval,
              // As the approval view: everyone who may approve, and the fewest approvals that can do it (the sets' sum).
              approvers: [...new Set(sets.flatMap((o) => o.approvers))],
              quorum: sets.reduce((n, o) => n + o.quorum, 0),
              // Each set must reach its own quorum.
              approver_sets: sets.map((o) => ({ approvers: o.approvers, quorum: o.quorum, independent_approvers: o.independent_approvers })),
              binding_message: sets.find((o) => o.binding_message)?.binding_message,
              status_endpoint: url,
              token_endpoint: `${url}/token`,
            }),
          },
        ],
      },
    };
  }
  const codes = result.reasons.join(', ') || 'no policy permits this call';
  return {
    decision: false,
    context: {
      ...base,
      reason_admin: { '403': `Denied by policy set ${result.policy.id} v${result.policy.version}: ${codes} (decision ${result.decision_id})` },
      reason_user: { '403': 'This action is not permitted. Contact your administrator.' },
    },
  };
}

/** A member whose evaluation failed with a protocol error: closed, with the error (§7.2.1). */
export function errorDecision(status: number, message: string): AuthZenDecision {
  return { decision: false, context: { error: { status, message } } };
}
