/**
 * The starter policy set: in force for a tenant until it activates a version of its own, and
 * the encoding of DESIGN.md's examples from the field. Documented in the README.
 *
 * Written on the richer model where it says the rule better, and no further:
 * - trust is judged over the whole chain: a certified agent fed by an orchestrator its act claim
 *   declares third party (`context.chain_trust_levels`) is as untrusted on sensitive data as a
 *   third-party agent. An upstream actor whose act claim states no trust is not counted here
 *   (`context.chain_has_third_party` would count it): RFC 8693 nested act claims usually carry
 *   only `sub`, and counting them would deny every delegated chain on sensitive data for tenants
 *   whose issuer does not annotate them. The current actor's own unstated trust still denies.
 *   A tenant that wants upstream "unknown" to deny writes `context.chain_has_third_party`;
 * - velocity is a named window (`context.velocity.last_300s`), not `session_calls`, whose window
 *   is a deployment setting (SESSION_WINDOW_SECONDS);
 * - approvers are groups of the directory (`group:finance`, `group:security`), never member lists.
 * What stays on the flat facts, on purpose:
 * - the payment threshold reads `context.amount` (the call's `amount` argument), not a tool's
 *   typed `context.input`: the starter set is in force for tenants with no catalogue, where no
 *   tool action and no `input` exist, and it cannot know which tool of a tenant pays or what its
 *   input is called. A tenant with a catalogue writes `context.input.amount` in its own set.
 * - nothing reads an entity (`principal`, `resource`, `context.user`, `context.chain`, `in`):
 *   the chain is read through its precomputed summary, so the starter set is still evaluated
 *   without entities, at its old cost (policy/entities.ts, reachesEntities).
 * The flat facts (`amount`, `session_calls`, `hour_of_day`, …) stay in the schema: sets written
 * against them keep validating and evaluating unchanged.
 */
export const PAYMENT_APPROVAL_THRESHOLD = 10_000;

const SENSITIVE = '["confidential", "restricted", "pii"]';

export const STARTER_POLICIES: Record<string, string> = {
  // Deny rules: each names its reason. A forbid always wins over any permit.
  'forbid-not-delegated': `@reason("not_delegated")
forbid (principal, action == Action::"call_tool", resource) when { !context.granted };`,

  'forbid-untrusted-agent-on-sensitive-data': `@reason("untrusted_agent_sensitive_data")
forbid (principal, action == Action::"call_tool", resource)
when { (["third_party", "unknown"].contains(context.trust_level) || context.chain_trust_levels.contains("third_party")) && ${SENSITIVE}.contains(context.resource_classification) };`,

  'forbid-bulk-external-export': `@reason("bulk_external_export")
forbid (principal, action == Action::"call_tool", resource)
when { context.action_category == "export" && context.external_destination && (context.bulk || ${SENSITIVE}.contains(context.resource_classification)) };`,

  'forbid-intent-mismatch': `@reason("intent_mismatch")
forbid (principal, action == Action::"call_tool", resource)
when { ["read", "search", "summarize"].contains(context.intent_category) && ["export", "delete", "pay", "admin"].contains(context.action_category) };`,

  'forbid-blocked-signal': `@reason("gateway_signal_blocked")
forbid (principal, action == Action::"call_tool", resource)
when { context.gateway_signals.containsAny(["malware_suspected", "credential_leak"]) };`,

  'forbid-export-without-reason': `@reason("reason_required")
forbid (principal, action == Action::"call_tool", resource)
when { ["export", "admin"].contains(context.action_category) && !context.reason_given };`,

  // What a delegated agent may do on its own.
  'permit-granted-reads': `@reason("granted_read")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && ["read", "search", "summarize"].contains(context.action_category) };`,

  'permit-granted-writes': `@reason("granted_write")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "write" };`,

  'permit-small-payments': `@reason("payment_below_threshold")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "pay" && context.has_amount && context.amount >= 0 && context.amount < ${PAYMENT_APPROVAL_THRESHOLD} };`,

  'permit-non-production-deletes': `@reason("delete_outside_production")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "delete" && context.environment != "production" };`,

  // What needs a human's OK in the session.
  'approve-large-payments': `@reason("payment_above_threshold")
@obligation("human_approval")
@approvers("delegator,group:finance")
@quorum("1")
@expires_in("900")
@binding_message("Payment at or above the approval threshold")
@reason_required("true")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "pay" && (!context.has_amount || context.amount < 0 || context.amount >= ${PAYMENT_APPROVAL_THRESHOLD}) };`,

  'approve-production-deletes': `@reason("production_delete")
@obligation("human_approval")
@approvers("delegator")
@binding_message("Delete in production")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "delete" && context.environment == "production" };`,

  'approve-exports': `@reason("export")
@obligation("human_approval")
@approvers("delegator")
@binding_message("Export data")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "export" };`,

  'approve-admin': `@reason("admin_action")
@obligation("human_approval")
@approvers("delegator,group:security")
@quorum("2")
permit (principal, action == Action::"call_tool", resource)
when { context.granted && context.action_category == "admin" };`,

  // Step-ups: add an approval to what is otherwise permitted, never permit on their own.
  'step-up-high-velocity': `@reason("high_velocity")
@step_up("true")
@obligation("human_approval")
@approvers("delegator")
@binding_message("Unusual activity in this session")
permit (principal, action == Action::"call_tool", resource)
when { context.velocity.last_300s > 100 || context.prior_denials >= 3 };`,

  'step-up-new-device': `@reason("new_device")
@step_up("true")
@obligation("human_approval")
@approvers("delegator")
permit (principal, action == Action::"call_tool", resource)
when { context.gateway_signals.contains("new_device") && !["read", "search", "summarize"].contains(context.action_category) };`,

  'sample-sensitive-reads': `@reason("sensitive_read_sampled")
@step_up("true")
@sampled_review("0.1")
permit (principal, action == Action::"call_tool", resource)
when { ${SENSITIVE}.contains(context.resource_classification) && context.action_category == "read" };`,
};
