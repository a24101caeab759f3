import type { UserFacts } from '../policy/cedar-schema';

/**
 * What a decision needs to know about the human an agent acts for: whether the tenant's
 * directory knows them, and their groups (`context.user in Group::"…"`). The notifications part,
 * which keeps the directory, provides it (as it provides the approval lifecycle's routing), so
 * authz reads no table of another part. Answers are cached per tenant and follow every change
 * on every instance within a second.
 */
export abstract class UserDirectory {
  abstract user(tenantId: string, userId: string): Promise<UserFacts>;
}
