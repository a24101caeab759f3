import { z } from 'zod';
import { CONTROL_OR_BREAK, id, text } from '../common/validation';
import { APPROVER_REF, CLASSIFICATIONS, DELIVERY_MODES, ENVIRONMENTS, INTENT_CATEGORIES, MAX_ACT_DEPTH, TRUST_LEVELS } from '../vocabulary/envelope';
import type { ApproverSet } from './approver-sets';
import type { StandingOffer } from './standing/standing-terms';
import type { ParkFacade } from './approval-facade.port';

/** CIBA's client_notification_token: an RFC 6750 b64token, at most 1024 characters. */
export const notificationToken = z
  .string()
  .min(1, { message: 'must not be empty' })
  .max(1024, { message: 'must be at most 1024 characters' })
  .regex(/^[A-Za-z0-9\-._~+/]+=*$/, { message: 'must follow the bearer token syntax of RFC 6750' });

type ActClaim = { sub: string; act?: ActClaim; [k: string]: unknown };
const actClaimAt = (depth: number): z.ZodType<ActClaim> =>
  z.looseObject({
    sub: id,
    act: (depth < MAX_ACT_DEPTH ? actClaimAt(depth + 1) : z.never({ message: `must not nest more than ${MAX_ACT_DEPTH} actors` })).optional(),
  }) as z.ZodType<ActClaim>;
const actClaim = actClaimAt(1);

/** The parts of the authorization context envelope that a parked call carries too (the authz engine reuses them). */
export const envelopeParts = {
  toolCall: z.strictObject({
    server: id,
    tool: id,
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
  intent: z.strictObject({ id: id.optional(), text: text(2000).optional(), category: z.enum(INTENT_CATEGORIES).optional() }).default({}),
  resource: z.strictObject({ id: id.optional(), type: id.optional(), classification: z.enum(CLASSIFICATIONS).optional() }).default({}),
  environment: z.enum(ENVIRONMENTS).optional(),
  reason: text(2000),
  risk: z.record(z.string(), z.unknown()).default({}),
  delivery: z
    .strictObject({
      mode: z.enum(DELIVERY_MODES).default('poll'),
      notification_endpoint: z.string().max(2048).optional(),
      notification_token: notificationToken.optional(),
    })
    .default({ mode: 'poll' }),
  correlation: z.strictObject({ mcp_session_id: id.optional(), a2a_interaction_id: id.optional(), request_id: id.optional() }).default({}),
};

const approverRefs = (what: string) =>
  z
    .array(text(300).regex(APPROVER_REF, { message: 'must be "user:<id>", "group:<name>" or "delegator"' }))
    .min(1, { message: `must name at least one ${what}` })
    .max(100, { message: `must name at most 100 ${what}s` });

/** One approver set: its people and groups, how many of them must approve, who else counts in it. */
const approverSetSchema = z.strictObject({
  approvers: approverRefs('approver'),
  quorum: z.int().min(1).max(100).default(1),
  /** Escalation approvers who count in this set only (the obligation's own `escalate_to` count in every set). */
  escalate_to: approverRefs('escalation approver').optional(),
  /** Separation of duties in this set; the obligation's `independent_approvers` when absent. */
  independent_approvers: z.boolean().optional(),
});

/** At most this many approver sets (one per approval obligation that applied). */
export const MAX_APPROVER_SETS = 20;

/**
 * Either one approver set (`approvers` and `quorum`, as before) or several (`approver_sets`): the
 * request is approved only when every set has reached its quorum (see approver-sets.ts).
 */
const obligationSchema = z
  .strictObject({
    approvers: approverRefs('approver').optional(),
    // No zod default: a quorum given beside approver_sets is refused, so absent must stay absent.
    quorum: z.int().min(1).max(100).optional().describe('How many of `approvers` must approve (default 1); not with approver_sets'),
    approver_sets: z
      .array(approverSetSchema)
      .min(1, { message: 'must name at least one approver set' })
      .max(MAX_APPROVER_SETS, { message: `must name at most ${MAX_APPROVER_SETS} approver sets` })
      .optional(),
    deny_threshold: z.int().min(1).max(100).default(1),
    expires_in: z.int().min(1, { message: 'must be at least 1 second' }).optional(),
    binding_message: text(256, CONTROL_OR_BREAK).optional(),
    /** Seconds undecided before `escalate_to` are notified. */
    escalate_after: z.int().min(1, { message: 'must be at least 1 second' }).optional(),
    escalate_to: approverRefs('escalation approver').optional(),
    /** Seconds after parking when approvers who have not voted are reminded. */
    remind_after: z.int().min(1, { message: 'must be at least 1 second' }).optional(),
    /** Separation of duties: the delegating human and the agent's operator may not approve. */
    independent_approvers: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
    if (o.approver_sets && o.approvers) {
      ctx.addIssue({ code: 'custom', path: ['approver_sets'], message: 'must not be given together with approvers (name one set there, or several here)' });
    } else if (o.approver_sets && o.quorum !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['quorum'], message: 'must not be given with approver_sets (each set has its own quorum)' });
    } else if (!o.approver_sets && !o.approvers) {
      ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'is required (or approver_sets)' });
    }
  });

export type ParkObligation = z.output<typeof obligationSchema>;

/**
 * The obligation's approver sets, one when it names `approvers` directly. Lists keep the order
 * and positions given (error messages point into them); the row stores them without repeats.
 */
export function approverSetsOf(o: ParkObligation): ApproverSet[] {
  if (!o.approver_sets) {
    return [{ approvers: o.approvers ?? [], quorum: o.quorum ?? 1, escalate_to: o.escalate_to ?? [], independent_approvers: o.independent_approvers }];
  }
  return o.approver_sets.map((set) => ({
    approvers: set.approvers,
    quorum: set.quorum,
    escalate_to: [...(set.escalate_to ?? []), ...(o.escalate_to ?? []).filter((ref) => !set.escalate_to?.includes(ref))],
    independent_approvers: set.independent_approvers ?? o.independent_approvers,
  }));
}

/** Where a set's fields are in the request, for error messages: `obligation` for the one-set form. */
export const setPathOf =
  (o: ParkObligation) =>
  (i: number): string =>
    o.approver_sets ? `obligation.approver_sets[${i}]` : 'obligation';

export const parkApprovalSchema = z.strictObject({
  tool_call: envelopeParts.toolCall,
  agent: z.strictObject({
    id: text(2048),
    class: id.optional(),
    trust_level: z.enum(TRUST_LEVELS).optional(),
    /** The person or team that runs the agent (separation of duties keeps them from approving). */
    operator: id.optional(),
    claims: z.looseObject({ act: actClaim.optional() }).optional(),
  }),
  delegator: z.strictObject({
    id,
    delegation_id: id.optional(),
    display_name: text(256).optional(),
  }),
  intent: envelopeParts.intent,
  resource: envelopeParts.resource,
  environment: envelopeParts.environment,
  reason: envelopeParts.reason,
  risk: envelopeParts.risk,
  obligation: obligationSchema,
  delivery: envelopeParts.delivery,
  correlation: envelopeParts.correlation,
});

export type ParkApprovalInput = z.output<typeof parkApprovalSchema>;

/** Parking a call: the validated input plus the tenant and gateway it belongs to. */
export interface ParkApprovalCommand {
  tenantId: string;
  gatewayId: string;
  input: ParkApprovalInput;
  /** Present when a protocol facade parks the call for its client: its rows go in the same statement. */
  facade?: ParkFacade;
  /** The policy decision that parked it (set by the authorization engine only): the redeem repeats it. */
  decisionId?: string;
  /** The standing approvals the policy allows (set by the authorization engine only, never from a body). */
  standingOffer?: StandingOffer;
  /** The proof each vote must carry (the policy's `@proof`; set by the authorization engine only, never from a body). */
  proof?: 'passkey';
}

export function cibaCodeForField(field: string): string | undefined {
  if (field.startsWith('obligation.binding_message')) return 'invalid_binding_message';
  if (field.startsWith('delivery.notification_token')) return 'invalid_client_notification_token';
  return undefined;
}
