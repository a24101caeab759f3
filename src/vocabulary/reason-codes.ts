/**
 * Reason codes that the engine's built-in rules give, whatever the policy says. Other parts act on
 * them too (the directory rejects a disabled human's parked calls with HUMAN_DISABLED), so they
 * live here rather than in the use case that first returns them.
 */

/** A call outside the delegation chain (the starter set's `forbid-not-delegated` names it too). */
export const NOT_DELEGATED = 'not_delegated';
/** A call outside the human's own entitlements (the directory's), whatever the delegations say. */
export const NOT_ENTITLED = 'not_entitled';
/** A call on behalf of a human the directory has disabled, whatever the policy says. */
export const HUMAN_DISABLED = 'human_disabled';
/** A call to a tool outside the tenant's catalogue once it has one (authz/catalogue/tool-call.ts, outsideCatalogue). */
export const TOOL_NOT_IN_CATALOGUE = 'tool_not_in_catalogue';
