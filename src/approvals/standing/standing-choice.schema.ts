import { z } from 'zod';
import { ARGUMENT_PATH } from './standing-terms';

/** An approver's choice of how far their approval stands (the vote's `standing`). */
export const standingChoiceSchema = z.strictObject({
  /** call: this call only; session: this agent's calls in this MCP session; window: for a time. */
  scope: z.enum(['call', 'session', 'window']),
  /** Seconds it stands; at most the policy's @standing_max_seconds, which is the default. */
  expires_in: z.int({ message: 'must be a whole number of seconds' }).min(1, { message: 'must be at least 1 second' }).max(31_536_000).optional(),
  /** How many later calls it may allow; at most the policy's @standing_max_uses, which is the default. */
  max_uses: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(999_999).optional(),
  /** Argument paths to pin beyond those the policy pins (never fewer: the policy's are always kept). */
  pin: z
    .array(z.string().regex(ARGUMENT_PATH, { message: 'must be an argument path such as "amount" or "recipient.iban"' }))
    .max(50, { message: 'must list at most 50 paths' })
    .optional(),
});
