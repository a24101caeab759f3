import { z } from 'zod';

const id = z.string().min(1, { message: 'must not be empty' }).max(2048, { message: 'must be at most 2048 characters' });
/** A tool pattern, as delegations and a person's entitlements write it. */
export const toolPattern = z
  .string()
  .min(1)
  .max(512)
  .regex(/^(\*|[^\s/]+\/(\*|[^\s/]+))$/, { message: 'must be "server/tool", "server/*" or "*"' });
/** A resource id pattern ("*" suffix matches a prefix). */
export const resourcePattern = z.string().min(1).max(512);
const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

/** POST /v1/delegations: a human (or, with parent_id, an agent) grants an agent part of their authority. */
export const grantDelegationSchema = z
  .strictObject({
    human: id,
    agent: id,
    /** For a sub-agent: the delegation this one narrows; its grantee is the grantor here. */
    parent_id: id.optional(),
    tools: z.array(toolPattern).min(1, { message: 'must name at least one tool pattern' }).max(200),
    resources: z.array(resourcePattern).max(200).optional(),
    purpose: z.string().min(1).max(1000).optional(),
    not_before: timestamp.optional(),
    expires_at: timestamp.optional(),
  })
  // As instants: the two may be written with different offsets, so their strings do not compare.
  .refine((d) => !d.not_before || !d.expires_at || Date.parse(d.not_before) < Date.parse(d.expires_at), {
    path: ['expires_at'],
    message: 'must be after not_before',
  });

export type GrantDelegationInput = z.output<typeof grantDelegationSchema>;

export const listDelegationsSchema = z.strictObject({
  human: id.optional(),
  agent: id.optional(),
  include_revoked: z.enum(['true', 'false']).optional(),
});
