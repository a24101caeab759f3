import { z } from 'zod';

const text = (field: string) =>
  z
    .string()
    .min(1, { message: `${field} must not be empty` })
    .max(512);
/**
 * Normalised to UTC before it reaches Postgres, which refuses what ISO 8601 (and zod) accept: an
 * offset beyond ±15:59 (`+23:30`) and the year 0000. Either was a 500 (issue 14, found by the fuzzer).
 */
const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' })
  .transform((s) => new Date(s))
  .refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, { message: 'must be between the years 0001 and 9999' })
  .transform((d) => d.toISOString());
/** The largest audit event id (a Postgres bigint): a longer cursor was a 500. The refinement runs after a failed regex too (zod 4). */
const MAX_BIGINT = 9223372036854775807n;

/** GET /v1/audit and /v1/audit/export filters. Every filter is optional; all given must match. */
export const auditQuerySchema = z.strictObject({
  from: instant.optional(),
  to: instant.optional(),
  type: text('type').optional(),
  agent: text('agent').optional(),
  human: text('human').optional(),
  tool: text('tool').optional(),
  verdict: z.enum(['allow', 'deny', 'allow_with_obligations']).optional(),
  approval_id: text('approval_id').optional(),
  mcp_session_id: text('mcp_session_id').optional(),
  a2a_interaction_id: text('a2a_interaction_id').optional(),
  request_id: text('request_id').optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(1000).default(100),
  /** Opaque: the `next_cursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^[0-9]{1,19}$/, { message: 'must be a next_cursor from a previous page' })
    .refine((c) => !/^[0-9]{1,19}$/.test(c) || BigInt(c) <= MAX_BIGINT, { message: 'must be a next_cursor from a previous page' })
    .optional(),
});
export type AuditQuery = z.output<typeof auditQuerySchema>;

/** The WHERE clause for a tenant and filters, with its parameters (numbered from $1). */
export function auditWhere(tenantId: string, q: Omit<AuditQuery, 'limit' | 'cursor'>, afterId?: string) {
  const params: unknown[] = [tenantId];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = ['tenant_id = $1'];
  if (q.from) where.push(`occurred_at >= ${p(q.from)}`);
  if (q.to) where.push(`occurred_at < ${p(q.to)}`);
  if (q.type) where.push(`type = ${p(q.type)}`);
  if (q.agent) where.push(`agent_id = ${p(q.agent)}`);
  if (q.human) where.push(`delegator_id = ${p(q.human)}`);
  if (q.approval_id) where.push(`approval_id = ${p(q.approval_id)}`);
  if (q.mcp_session_id) where.push(`mcp_session_id = ${p(q.mcp_session_id)}`);
  if (q.a2a_interaction_id) where.push(`a2a_interaction_id = ${p(q.a2a_interaction_id)}`);
  if (q.request_id) where.push(`request_id = ${p(q.request_id)}`);
  // The tool is in the decision's input (action) or the parked call (tool_call).
  if (q.tool) where.push(`(data #>> '{input,action,tool}' = ${p(q.tool)} OR data #>> '{input,tool_call,tool}' = $${params.length})`);
  if (q.verdict) where.push(`data ->> 'verdict' = ${p(q.verdict)}`);
  if (afterId) where.push(`id > ${p(afterId)}`);
  return { where: where.join(' AND '), params };
}

export const AUDIT_COLUMNS = `id::text AS id, tenant_id, type, occurred_at, approval_id, actor, agent_id, delegator_id, mcp_session_id,
  a2a_interaction_id, request_id, data, seal.seq::text AS chain_seq, seal.prev_hash, seal.hash`;

/** What AUDIT_COLUMNS selects from: the events, each with its seal (none while it waits for the sealer). */
export const AUDIT_SOURCE = `audit_events LEFT JOIN LATERAL (SELECT seq, prev_hash, hash FROM audit_seals
  WHERE audit_seals.event_id = audit_events.id AND audit_seals.tenant_id = audit_events.tenant_id) seal ON true`;
