import { z } from 'zod';

/** What every vote says, checked alike wherever it arrives: the decision and the approver's reason for access. */
export const decisionFields = {
  decision: z.enum(['approve', 'deny']),
  reason: z
    .string()
    .trim()
    .min(1, { message: 'must not be empty: say why access is approved or denied' })
    .max(2000, { message: 'must be at most 2000 characters' }),
};
