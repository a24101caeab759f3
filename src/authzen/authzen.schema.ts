import { z } from 'zod';

/**
 * The request shapes of the OpenID AuthZEN Authorization API 1.0 (final), §5 (information model),
 * §6 (Access Evaluation) and §7 (Access Evaluations). Objects are not strict: the HTTPS binding
 * (§10.1.1) says receivers MUST ignore unknown fields, so unknown members are dropped, not refused.
 * What our entities need beyond the spec's shape (the agent's token, the tool's server, our
 * classification and environment vocabularies) is checked afterwards by `authorizeSchema`.
 */

/** More members than this in one `evaluations` request is a 400: one request must not hold a PDP for long. */
export const MAX_EVALUATIONS = 100;

export const EVALUATIONS_SEMANTICS = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] as const;
export type EvaluationsSemantic = (typeof EVALUATIONS_SEMANTICS)[number];

const name = z.string().min(1, { message: 'must not be empty' });
const properties = z.record(z.string(), z.unknown());

/** §5.1: `type` and `id` REQUIRED, `properties` OPTIONAL. Countersign's subject is the agent, its token in `properties.token`. */
export const subjectSchema = z.object({ type: name, id: name, properties: properties.optional() });
/** §5.2: the same shape as a Subject. */
export const resourceSchema = z.object({ type: name, id: name, properties: properties.optional() });
/** §5.3: `name` REQUIRED, `properties` OPTIONAL. */
export const actionSchema = z.object({ name, properties: properties.optional() });
/** §5.4: any object. */
export const contextSchema = properties;

/** §6.1: subject, action and resource REQUIRED, context OPTIONAL. */
export const evaluationSchema = z.object({
  subject: subjectSchema,
  action: actionSchema,
  resource: resourceSchema,
  context: contextSchema.optional(),
});
export type EvaluationRequest = z.output<typeof evaluationSchema>;

/** One member of `evaluations`: every key optional, the top-level keys are its defaults (§7.1.1). */
const memberSchema = z.object({
  subject: subjectSchema.optional(),
  action: actionSchema.optional(),
  resource: resourceSchema.optional(),
  context: contextSchema.optional(),
});
export type EvaluationMember = z.output<typeof memberSchema>;

/** §7.1: the defaults, the members and `options.evaluations_semantic` (§7.1.2.1, default execute_all). */
export const evaluationsSchema = memberSchema.extend({
  evaluations: z
    .array(memberSchema)
    .max(MAX_EVALUATIONS, { message: `must have at most ${MAX_EVALUATIONS} members` })
    .optional(),
  options: z.object({ evaluations_semantic: z.enum(EVALUATIONS_SEMANTICS).default('execute_all') }).default({ evaluations_semantic: 'execute_all' }),
});
export type EvaluationsRequest = z.output<typeof evaluationsSchema>;

/** §5.5: a Decision; `context` carries reasons, obligations or a per-member error. */
export interface AuthZenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}
