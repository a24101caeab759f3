import type { UserFacts } from '../policy/cedar-schema';
import type { HopGrant } from '../policy/delegation-chain';

/** What the directory knows of one human: their facts for policies, and their own entitlements. */
export interface DirectoryPerson {
  user: UserFacts;
  /**
   * The tools (and resources) the human may use themselves, in the delegation patterns' syntax;
   * null when none are recorded (unrestricted: only their delegations bound their agents).
   */
  entitlements: HopGrant | null;
}

/**
 * What a decision needs to know about the human an agent acts for: whether the tenant's
 * directory knows them and whether it has disabled them (built in: `human_disabled`), their
 * groups (`context.user in Group::"…"`) and their own entitlements (the built-in intersection: a
 * call outside them is `not_entitled`). The notifications part,
 * which keeps the directory, provides it (as it provides the approval lifecycle's routing), so
 * authz reads no table of another part. Answers are cached per tenant and follow every change
 * on every instance within a second; `fresh` reads past the cache (a grant being checked).
 */
export abstract class UserDirectory {
  abstract person(tenantId: string, userId: string, options?: { fresh?: boolean }): Promise<DirectoryPerson>;

  async user(tenantId: string, userId: string): Promise<UserFacts> {
    return (await this.person(tenantId, userId)).user;
  }
}
