/**
 * What the lifecycle tells the other parts through the outbox (written in the transaction of the
 * change; see common/outbox). Payloads carry ids and the times jobs are due; handlers load state.
 */
export const APPROVAL_CREATED = 'approval.created';
/** A request settled and its gateway is owed a ping or push callback. */
export const APPROVAL_CALLBACK_OWED = 'approval.callback_owed';

export interface ApprovalCreatedEvent {
  tenantId: string;
  approvalId: string;
  /** ISO 8601. */
  createdAt: string;
  expiresAt: string;
  escalateAfter: number | null;
  remindAfter: number | null;
}

export interface ApprovalCallbackOwedEvent {
  tenantId: string;
  approvalId: string;
}
