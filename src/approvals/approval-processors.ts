import { Processor } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { Job } from 'bullmq';
import { QueueWorkerHost } from '../common/queues/queue-worker.host';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalJob, ApprovalJobData, ApprovalQueue } from './approval-queues';
import { DeliverCallback } from './deliver-callback.usecase';
import { ExpireApproval } from './expire-approval.usecase';
import { ApprovalsReconciler } from './approvals-reconciler.service';

/** Handles expiry jobs: loads the request and expires it if it is still pending. */
@Processor(ApprovalQueue.Expiry)
export class ExpireApprovalProcessor extends QueueWorkerHost<ApprovalJobData, typeof ApprovalJob.Expire> {
  constructor(
    private readonly expire: ExpireApproval,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super({ [ApprovalJob.Expire]: true }, config.WORKER_CONCURRENCY);
  }

  protected async handle(job: Job<ApprovalJobData>): Promise<string> {
    const result = await this.expire.execute(job.data);
    // A job that ran early (clock skew between hosts) is retried by the queue's backoff.
    if (result === 'not-due') throw new Error('not due yet');
    return result;
  }
}

/** Handles callback jobs; a transient failure is thrown so that BullMQ retries with backoff. */
@Processor(ApprovalQueue.Callbacks)
export class DeliverCallbackProcessor extends QueueWorkerHost<ApprovalJobData, typeof ApprovalJob.DeliverCallback> {
  constructor(
    private readonly deliver: DeliverCallback,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super({ [ApprovalJob.DeliverCallback]: true }, config.WORKER_CONCURRENCY);
  }

  protected async handle(job: Job<ApprovalJobData>): Promise<string> {
    const { attempt, lastAttempt } = this.attemptOf(job);
    const verdict = await this.deliver.execute(job.data, attempt, lastAttempt);
    if (verdict === 'retry') {
      this.logger.warn(`callback for ${job.data.approvalId} failed (attempt ${attempt}); will retry`);
      throw new Error('callback delivery failed; retrying');
    }
    return verdict;
  }
}

/** Runs the reconciler on its schedule (one instance at a time: it is a single queue job). */
@Processor(ApprovalQueue.Maintenance)
export class ReconcileProcessor extends QueueWorkerHost<Record<string, never>, typeof ApprovalJob.Reconcile> {
  constructor(private readonly reconciler: ApprovalsReconciler) {
    super({ [ApprovalJob.Reconcile]: true });
  }

  protected async handle(): Promise<{ expiries: number; callbacks: number; notifications: number }> {
    return this.reconciler.reconcile(this.reconciler.scheduledScope());
  }
}
