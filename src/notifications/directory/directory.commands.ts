import { z } from 'zod';
import { text } from '../../common/validation';
import { resourcePattern, toolPattern } from '../../authz/delegations/grant-delegation.command';

/** Ids appear in approver references ("user:<id>") and in URLs: no spaces, no control characters. */
export const APPROVER_ID = /^[A-Za-z0-9._@+-]{1,200}$/;
export const GROUP_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** A person's status: a disabled one's agents are denied (`human_disabled`) and their votes refused. */
export const PERSON_STATUSES = ['active', 'disabled'] as const;
export type PersonStatus = (typeof PERSON_STATUSES)[number];

export const approverInputSchema = z.strictObject({
  display_name: text(200),
  email: z.email({ message: 'must be an email address' }).max(320).nullable().optional(),
  /**
   * What the person may use themselves, in the delegation patterns' syntax (resources absent: any
   * resource). Absent or null: none recorded, the person is unrestricted. `tools: []`: nothing.
   */
  entitlements: z
    .strictObject({
      tools: z.array(toolPattern).max(200),
      resources: z.array(resourcePattern).max(200).optional(),
    })
    .nullable()
    .optional(),
  /**
   * Absent: unchanged ("active" for a new person), so that a PUT which only edits the name never
   * re-enables someone an admin disabled.
   */
  status: z.enum(PERSON_STATUSES).optional(),
});
export type ApproverInput = z.output<typeof approverInputSchema>;

export const groupInputSchema = z.strictObject({
  display_name: text(200).optional(),
  members: z
    .array(z.string().regex(APPROVER_ID, { message: 'must be an approver id' }))
    .max(1000, { message: 'must list at most 1000 members' }),
});
export type GroupInput = z.output<typeof groupInputSchema>;

