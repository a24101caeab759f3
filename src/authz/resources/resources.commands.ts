import { z } from 'zod';
import { CLASSIFICATIONS, ENVIRONMENTS } from '../../vocabulary/envelope';
import { id } from '../../common/validation';
import { ATTRIBUTE_NAME, ATTRIBUTE_TYPES, RESERVED_ATTRIBUTE_NAMES } from './resource-schema';

const MAX_ATTRIBUTES = 32;

const attributeDecl = z.strictObject({
  type: z.enum(ATTRIBUTE_TYPES),
  optional: z.boolean().default(false),
});

/** The body of PUT /v1/resource-types/:name: the type's own attributes (besides classification, environment and owner). */
export const declareResourceTypeSchema = z.strictObject({
  attributes: z
    .record(z.string(), attributeDecl)
    .default({})
    .superRefine((attrs, ctx) => {
      const names = Object.keys(attrs);
      if (names.length > MAX_ATTRIBUTES) ctx.addIssue({ code: 'custom', message: `must declare at most ${MAX_ATTRIBUTES} attributes` });
      for (const name of names) {
        if (!ATTRIBUTE_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `must match ${ATTRIBUTE_NAME.source}` });
        else if (RESERVED_ATTRIBUTE_NAMES.has(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'is reserved (every resource has classification, environment and owner; Cedar keywords cannot be attribute names)',
          });
      }
    }),
});

/** The body of PUT /v1/resources/:id. */
export const registerResourceSchema = z.strictObject({
  /** A declared resource type. */
  type: z.string().min(1).max(64),
  classification: z.enum(CLASSIFICATIONS).default('internal'),
  environment: z.enum(ENVIRONMENTS).default('production'),
  /** The owning user's id, as agent tokens name the human (`User::"<owner>"`). */
  owner: id,
  /** Values for the type's declared attributes (checked against the declaration). */
  attributes: z.record(z.string(), z.unknown()).default({}),
});

/** ?type=&after=&limit= of GET /v1/resources. */
export const listResourcesQuery = z.strictObject({
  type: z.string().max(64).optional(),
  after: z.string().max(512).optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(500).optional(),
});

export type DeclareResourceType = z.output<typeof declareResourceTypeSchema>;
export type RegisterResource = z.output<typeof registerResourceSchema>;
