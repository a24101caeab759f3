import { z } from 'zod';
import { ACTION_CATEGORIES } from '../policy/intent';

export const publishPolicySetSchema = z.strictObject({
  policies: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, { message: 'policy ids may contain letters, digits, _ . : - (1–128)' }),
      z
        .string()
        .min(1, { message: 'must not be empty' })
        .max(64 * 1024, { message: 'must be at most 64 KiB' }),
    )
    .refine((p) => Object.keys(p).length > 0, { message: 'must contain at least one policy' })
    .refine((p) => Object.keys(p).length <= 1000, { message: 'must contain at most 1000 policies' }),
  tool_categories: z.record(z.string().min(1).max(512), z.enum(ACTION_CATEGORIES)).default({}),
  description: z.string().max(2000).optional(),
  activate: z.boolean().default(false),
});

export type PublishPolicySetInput = z.output<typeof publishPolicySetSchema>;
