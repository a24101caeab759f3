import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Outbox } from '../common/outbox/outbox.service';
import { dropFinishedJobs, KEEP_FINISHED } from '../common/queues/revive-jobs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { APPROVAL_CALLBACK_OWED, APPROVAL_CREATED, ApprovalCallbackOwedEvent, ApprovalCreatedEvent } from './approval-outbox-events';
import {
  ApprovalJob,
  ApprovalQueue,
  callbackJobId,
  CallbackQueue,
  expiryJobId,
  ExpiryQueue,
  MaintenanceQueue,
  RECONCILE_SCHEDULER_ID,
} from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';

type Schedulable = Pick<ApprovalRequest, 'id' | 'tenantId' | 'expiresAt'>;

/**
 * How far ahead of its expiry a pending request needs its expiry job: the scheduled
 * reconciliation, every RECONCILE_INTERVAL_SECONDS, adds the job of every pending request due
 * within this horizon, so every request is inside it for at least two passes before it expires.
 * A request parked further out gets its job from a pass, and one settled before then never needs
 * one (most are: the default expiry is ten minutes): no delayed job added on park, none removed on
 * settle. With the scheduled pass off, every request gets its job when parked.
 */
export function expiryHorizonSeconds(config: Pick<AppConfig, 'RECONCILE_INTERVAL_SECONDS'>): number {
  return config.RECONCILE_INTERVAL_SECONDS > 0 ? 2 * config.RECONCILE_INTERVAL_SECONDS + 5 : Infinity;
}

/**
 * Enqueues the lifecycle's jobs (and only enqueues: the processors handle them). The request
 * paths write outbox events instead of calling Redis; the outbox dispatcher turns them into
 * these jobs (subscribed below). The reconciler calls the revive methods directly.
 */
@Injectable()
export class ApprovalJobs implements OnModuleInit {
  constructor(
    @InjectQueue(ApprovalQueue.Expiry) private readonly expiryQueue: ExpiryQueue,
    @InjectQueue(ApprovalQueue.Callbacks) private readonly callbackQueue: CallbackQueue,
    @InjectQueue(ApprovalQueue.Maintenance) private readonly maintenanceQueue: MaintenanceQueue,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.outbox.subscribe(APPROVAL_CREATED, (events) => [
      {
        queue: this.expiryQueue,
        jobs: this.expiryJobs(
          (events as unknown as ApprovalCreatedEvent[])
            .map((e) => ({ id: e.approvalId, tenantId: e.tenantId, expiresAt: new Date(e.expiresAt) }))
            .filter((r) => this.dueWithinHorizon(r)),
        ),
      },
    ]);
    this.outbox.subscribe(APPROVAL_CALLBACK_OWED, (events) => [
      {
        queue: this.callbackQueue,
        jobs: this.callbackJobs((events as unknown as ApprovalCallbackOwedEvent[]).map((e) => ({ id: e.approvalId, tenantId: e.tenantId }))),
      },
    ]);
  }

  async scheduleExpiry(...requests: Schedulable[]): Promise<void> {
    if (requests.length === 0) return;
    const jobs = this.expiryJobs(requests);
    // One job is the hot path (parking a call); add is about twice as fast as addBulk there.
    if (jobs.length === 1) await this.expiryQueue.add(jobs[0].name, jobs[0].data, jobs[0].opts);
    else await this.expiryQueue.addBulk(jobs);
  }

  private expiryJobs(requests: Schedulable[]) {
    const now = Date.now();
    return requests.map((r) => ({
      name: ApprovalJob.Expire,
      data: { tenantId: r.tenantId, approvalId: r.id },
      opts: {
        jobId: expiryJobId(r.id),
        delay: Math.max(0, r.expiresAt.getTime() - now),
        attempts: 10,
        backoff: { type: 'exponential' as const, delay: 1000 },
        ...KEEP_FINISHED,
      },
    }));
  }

  /** For the reconciler: like scheduling, but a finished job whose request still needs it is replaced. */
  async reviveExpiry(...requests: Schedulable[]): Promise<void> {
    await dropFinishedJobs(
      this.expiryQueue,
      requests.map((r) => expiryJobId(r.id)),
    );
    await this.scheduleExpiry(...requests);
  }

  async reviveCallback(...requests: Pick<ApprovalRequest, 'id' | 'tenantId'>[]): Promise<void> {
    await dropFinishedJobs(
      this.callbackQueue,
      requests.map((r) => callbackJobId(r.id)),
    );
    await this.scheduleCallback(...requests);
  }

  /** Idempotent: BullMQ keeps one scheduler per id however many instances call this. */
  async scheduleReconciliation(everySeconds: number): Promise<void> {
    if (everySeconds <= 0) return;
    await this.maintenanceQueue.upsertJobScheduler(
      RECONCILE_SCHEDULER_ID,
      { every: everySeconds * 1000 },
      { name: ApprovalJob.Reconcile, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } },
    );
  }

  /** Whether the periodic reconciliation's scheduler exists (a Redis that lost its data has none). */
  async hasReconciliationSchedule(): Promise<boolean> {
    return (await this.maintenanceQueue.getJobScheduler(RECONCILE_SCHEDULER_ID)) !== undefined;
  }

  /** Whether the request's expiry job may exist yet (see expiryHorizonSeconds). */
  private dueWithinHorizon(request: Pick<ApprovalRequest, 'expiresAt'>): boolean {
    return request.expiresAt.getTime() - Date.now() <= expiryHorizonSeconds(this.config) * 1000;
  }

  async cancelExpiry(request: Pick<ApprovalRequest, 'id' | 'expiresAt'>): Promise<void> {
    // A removed job is only an optimisation: the expiry handler skips settled requests anyway. So a
    // request still outside the horizon is left alone: neither a pass nor a rebuild has added its job
    // (one added while RECONCILE_INTERVAL_SECONDS was 0 would find the request settled).
    if (!this.dueWithinHorizon(request)) return;
    await this.expiryQueue.remove(expiryJobId(request.id)).catch(() => undefined);
  }

  async scheduleCallback(...requests: Pick<ApprovalRequest, 'id' | 'tenantId'>[]): Promise<void> {
    if (requests.length === 0) return;
    await this.callbackQueue.addBulk(this.callbackJobs(requests));
  }

  private callbackJobs(requests: Pick<ApprovalRequest, 'id' | 'tenantId'>[]) {
    return requests.map((r) => ({
      name: ApprovalJob.DeliverCallback,
      data: { tenantId: r.tenantId, approvalId: r.id },
      opts: {
        jobId: callbackJobId(r.id),
        attempts: this.config.CALLBACK_MAX_ATTEMPTS,
        backoff: { type: 'exponential' as const, delay: this.config.CALLBACK_BACKOFF_MS },
        ...KEEP_FINISHED,
      },
    }));
  }
}
