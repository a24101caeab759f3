import { z } from 'zod';
import { text } from '../../common/validation';
import { resourcePattern, toolPattern } from '../../authz/delegations/grant-delegation.command';

/** Ids appear in approver references ("user:<id>") and in URLs: no spaces, no control characters. */
export const APPROVER_ID = /^[A-Za-z0-9._@+-]{1,200}$/;
export const GROUP_NAME = /^[A-Za-z0-9._-]{1,100}$/;
/** An attribute name as policies write it in getTag("…"). */
export const ATTRIBUTE_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_ATTRIBUTES = 50;

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
  /**
   * Directory attributes (department, cost centre, …) that policies read as the User entity's tags
   * (`context.user.getTag("department")`). Absent: unchanged (none for a new person); `{}` clears them.
   */
  attributes: z
    .record(z.string().regex(ATTRIBUTE_NAME, { message: `must be an attribute name matching ${ATTRIBUTE_NAME.source}` }), text(200))
    .refine((a) => Object.keys(a).length <= MAX_ATTRIBUTES, { message: `must have at most ${MAX_ATTRIBUTES} attributes` })
    .optional(),
});
export type ApproverInput = z.output<typeof approverInputSchema>;

export const groupInputSchema = z.strictObject({
  display_name: text(200).optional(),
  members: z.array(z.string().regex(APPROVER_ID, { message: 'must be an approver id' })).max(1000, { message: 'must list at most 1000 members' }),
  /**
   * The groups this group is in ("hr-comp" in "hr"): its members are members of those for policies
   * (`context.user in Group::"hr"`), transitively. Absent: unchanged (none for a new group); a
   * group that would end up within itself is refused.
   */
  member_of: z
    .array(z.string().regex(GROUP_NAME, { message: `must be a group name matching ${GROUP_NAME.source}` }))
    .max(50, { message: 'must list at most 50 groups' })
    .optional(),
});
export type GroupInput = z.output<typeof groupInputSchema>;
