import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { ApprovalVote } from './approval-vote.entity';

/** A pending request whose time is up reads as expired even before its expiry job has run. */
export function effectiveStatus(r: ApprovalRequest, now = Date.now()): ApprovalStatus {
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
    },
    votes: {
      approve: votes.filter((v) => v.decision === 'approve').length,
      deny: votes.filter((v) => v.decision === 'deny').length,
      // Reasons are the approvers' own words: shown once the request is decided.
      cast: votes.map((v) => ({
        approver: v.approverId,
        decision: v.decision,
        at: v.createdAt.toISOString(),
        ...(decided ? { reason: v.reason } : {}),
      })),
    },
  };
}

export type ApprovalViewBody = ReturnType<typeof approvalView>;

/** Why a denied request was denied, as both the token endpoint and the push callback report it. */
export function denialOf(r: ApprovalRequest, votes: ApprovalVote[]) {
  return {
    description: r.settledReason ? `the request was rejected: ${r.settledReason}` : 'the approvers denied the request',
    details: {
      ...(r.settledReason ? { reason: r.settledReason } : {}),
      denials: votes.filter((v) => v.decision === 'deny').map((v) => ({ approver: v.approverId, reason: v.reason })),
    },
  };
}
