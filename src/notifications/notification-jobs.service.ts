import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { JobsOptions } from 'bullmq';
import { APPROVAL_CREATED, ApprovalCreatedEvent } from '../approvals/approval-outbox-events';
import type { ApprovalRequest } from '../approvals/approval-request.entity';
import { Outbox } from '../common/outbox/outbox.service';
import { dropFinishedJobs, KEEP_FINISHED } from '../common/queues/revive-jobs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { NotificationDelivery, NotificationRound } from './notification-delivery.entity';
import {
  DeliveriesQueue,
  deliveryJobId,
  deliveryPriority,
  DeliveryQueuedEvent,
  NOTIFICATION_QUEUED,
  NotificationQueue,
  RoundsQueue,
  roundJobId,
} from './notification-queues';

type Roundable = Pick<ApprovalRequest, 'id' | 'tenantId' | 'createdAt' | 'escalateAfter' | 'remindAfter'>;
/** A delivery whose job is owed, with its place in its round when known (deliveryPriority). */
type QueuedDelivery = Pick<NotificationDelivery, 'id' | 'tenantId' | 'channel'> & { rank?: number | null };

/**
 * Enqueues notification jobs (and only enqueues: the processors handle them). Notifications
 * react to the lifecycle's approval.created outbox event with the request's later rounds
 * (escalation, reminder: the initial one commits with the park), and to their own
 * notification.queued events with the delivery jobs.
 */
@Injectable()
export class NotificationJobs implements OnModuleInit {
  constructor(
    @InjectQueue(NotificationQueue.Rounds) private readonly rounds: RoundsQueue,
    @InjectQueue(NotificationQueue.Deliveries) private readonly deliveries: DeliveriesQueue,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.outbox.subscribe(APPROVAL_CREATED, (events) => [
      {
        queue: this.rounds,
        jobs: (events as unknown as ApprovalCreatedEvent[]).flatMap((e) =>
          this.roundJobs(
            { id: e.approvalId, tenantId: e.tenantId, createdAt: new Date(e.createdAt), escalateAfter: e.escalateAfter, remindAfter: e.remindAfter },
            ['escalation', 'reminder'],
          ),
        ),
      },
    ]);
    this.outbox.subscribe(NOTIFICATION_QUEUED, (events) => [
      {
        queue: this.deliveries,
        jobs: this.deliveryJobs(
          (events as unknown as DeliveryQueuedEvent[]).map((e) => ({ id: e.deliveryId, tenantId: e.tenantId, channel: e.channel, rank: e.rank })),
        ),
      },
    ]);
  }

  /** The rounds a request has: notify now, escalate and remind later (delayed jobs). */
  roundsOf(request: Roundable): { round: NotificationRound; at: number }[] {
    const created = request.createdAt.getTime();
    return [
      { round: 'initial' as const, at: created },
      ...(request.escalateAfter ? [{ round: 'escalation' as const, at: created + request.escalateAfter * 1000 }] : []),
      ...(request.remindAfter ? [{ round: 'reminder' as const, at: created + request.remindAfter * 1000 }] : []),
    ];
  }

  async scheduleRounds(request: Roundable, only?: NotificationRound[]): Promise<void> {
    const jobs = this.roundJobs(request, only);
    if (jobs.length) await this.rounds.addBulk(jobs);
  }

  private roundJobs(request: Roundable, only?: NotificationRound[]) {
    const now = Date.now();
    return this.roundsOf(request)
      .filter((r) => !only || only.includes(r.round))
      .map(({ round, at }) => ({
        name: round,
        data: { tenantId: request.tenantId, approvalId: request.id, round },
        opts: { jobId: roundJobId(round, request.id), delay: Math.max(0, at - now), ...this.retries(), ...KEEP_FINISHED } satisfies JobsOptions,
      }));
  }

  async scheduleDeliveries(deliveries: QueuedDelivery[]): Promise<void> {
    if (!deliveries.length) return;
    await this.deliveries.addBulk(this.deliveryJobs(deliveries));
  }

  private deliveryJobs(deliveries: QueuedDelivery[]) {
    return deliveries.map((d) => {
      const priority = deliveryPriority(d.rank);
      return {
        name: d.channel,
        data: { tenantId: d.tenantId, deliveryId: d.id },
        opts: { jobId: deliveryJobId(d.id), ...(priority ? { priority } : {}), ...this.retries(), ...KEEP_FINISHED } satisfies JobsOptions,
      };
    });
  }

  /** For the reconciler: like scheduling, but a finished job whose work Postgres says is still owed is replaced. */
  async reviveRounds(owed: { request: Roundable; rounds: NotificationRound[] }[]): Promise<void> {
    const jobs = owed.flatMap(({ request, rounds }) => this.roundJobs(request, rounds));
    if (!jobs.length) return;
    await dropFinishedJobs(
      this.rounds,
      jobs.map((j) => j.opts.jobId),
    );
    await this.rounds.addBulk(jobs);
  }

  async reviveDeliveries(deliveries: QueuedDelivery[]): Promise<void> {
    await dropFinishedJobs(
      this.deliveries,
      deliveries.map((d) => deliveryJobId(d.id)),
    );
    await this.scheduleDeliveries(deliveries);
  }

  private retries() {
    return { attempts: this.config.NOTIFY_MAX_ATTEMPTS, backoff: { type: 'exponential' as const, delay: this.config.NOTIFY_BACKOFF_MS } };
  }
}
