import type { Queue } from 'bullmq';

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

/**
 * The job names each queue takes. The Queue handles below are typed with them, so a job added
 * under another name is a compile error rather than a job no one expects.
 */
export const ApprovalJob = {
  Expire: 'expire',
  DeliverCallback: 'deliver',
  Reconcile: 'reconcile',
} as const;

/** The periodic reconciliation's scheduler id (BullMQ types a scheduler id as a job name). */
export const RECONCILE_SCHEDULER_ID = ApprovalJob.Reconcile;

export type ExpiryQueue = Queue<ApprovalJobData, unknown, typeof ApprovalJob.Expire>;
export type CallbackQueue = Queue<ApprovalJobData, unknown, typeof ApprovalJob.DeliverCallback>;
export type MaintenanceQueue = Queue<Record<string, never>, unknown, typeof ApprovalJob.Reconcile>;
