/** The approval lifecycle's BullMQ queues. Payloads carry ids only; handlers load state from Postgres. */
export enum ApprovalQueue {
  Expiry = 'approval-expiry',
  Callbacks = 'approval-callbacks',
  /** Periodic reconciliation of Redis against Postgres. */
  Maintenance = 'approval-maintenance',
}

export interface ApprovalJobData {
  tenantId: string;
  approvalId: string;
}

/** Deterministic job ids make re-adding (by the reconciler, or twice by a retry) a no-op. */
export const expiryJobId = (approvalId: string) => `expire-${approvalId}`;
export const callbackJobId = (approvalId: string) => `callback-${approvalId}`;

export const RECONCILE_SCHEDULER_ID = 'reconcile';
