import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { ApprovalVote } from './approval-vote.entity';
import { setProgress } from './vote-tally';
import { REEVALUATION_DENIED } from './redeem-reevaluation.port';

// The page reads each set's progress from here too; the rule lives in vote-tally.ts.
export { setProgress, type SetProgress } from './vote-tally';

/** A pending request whose time is up reads as expired even before its expiry job has run. */
export function effectiveStatus(r: Pick<ApprovalRequest, 'status' | 'expiresAt'>, now = Date.now()): ApprovalStatus {
  return r.status === 'pending' && r.expiresAt.getTime() <= now ? 'expired' : r.status;
}

/** What the gateway sees of a request: its status, the votes so far, and once decided, the reasons. */
export function approvalView(r: ApprovalRequest, votes: ApprovalVote[]) {
  const status = effectiveStatus(r);
  const decided = status !== 'pending';
  return {
    auth_req_id: r.id,
    status,
    created_at: r.createdAt.toISOString(),
    expires_at: r.expiresAt.toISOString(),
    expires_in: Math.max(0, Math.ceil((r.expiresAt.getTime() - Date.now()) / 1000)),
    interval: r.pollInterval,
    decided_at: r.decidedAt?.toISOString() ?? null,
    tool_call: r.toolCall,
    call_hash: r.callHash,
    agent_id: r.agentId,
    delegator_id: r.delegatorId,
    // What the agent said it is doing and why, as its approvers read it.
    intent: r.intent,
    reason: r.reason,
    binding_message: r.bindingMessage,
    delivery_mode: r.deliveryMode,
    obligation: {
      approvers: r.approvers,
      quorum: r.quorum,
      deny_threshold: r.denyThreshold,
      escalate_after: r.escalateAfter,
      escalate_to: r.escalateTo,
      remind_after: r.remindAfter,
      independent_approvers: r.independentApprovers,
      // Every set must reach its own quorum; `quorum` above is their sum, the fewest approvals that can do it.
      approver_sets: setProgress(r, votes),
      // What the policy lets an approval stand for beyond this call (the vote's `standing`); null: this call only.
      standing: r.standingOffer,
    },
    votes: {
      approve: votes.filter((v) => v.decision === 'approve').length,
      deny: votes.filter((v) => v.decision === 'deny').length,
      // Reasons are the approvers' own words: shown once the request is decided.
      cast: votes.map((v) => ({
        approver: v.approverId,
        decision: v.decision,
        eligible_sets: v.eligibleSets,
        at: v.createdAt.toISOString(),
        ...(decided ? { reason: v.reason } : {}),
      })),
    },
  };
}

export type ApprovalViewBody = ReturnType<typeof approvalView>;

/** Why a denied request was denied, as both the token endpoint and the push callback report it. */
export function denialOf(r: ApprovalRequest, votes: ApprovalVote[]) {
  // Approved, then denied when redeemed: the repeated decision's reasons say why.
  const reevaluated = r.settledReason === REEVALUATION_DENIED && r.reevaluation ? r.reevaluation : undefined;
  return {
    description: reevaluated
      ? `the call is no longer allowed: ${reevaluated.reasons.join(', ')}`
      : r.settledReason
        ? `the request was rejected: ${r.settledReason}`
        : 'the approvers denied the request',
    details: {
      ...(r.settledReason ? { reason: r.settledReason } : {}),
      ...(reevaluated
        ? { reasons: reevaluated.reasons, ...(reevaluated.policy_version !== undefined ? { policy_version: reevaluated.policy_version } : {}) }
        : {}),
      denials: votes.filter((v) => v.decision === 'deny').map((v) => ({ approver: v.approverId, reason: v.reason })),
    },
  };
}
