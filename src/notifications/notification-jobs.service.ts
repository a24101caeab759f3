import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { JobsOptions } from 'bullmq';
import type { ApprovalRequest } from '../approvals/approval-request.entity';
import { dropFinishedJobs, KEEP_FINISHED } from '../common/queues/revive-jobs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { NotificationDelivery, NotificationRound } from './notification-delivery.entity';
import { DeliveriesQueue, deliveryJobId, NotificationQueue, RoundsQueue, roundJobId } from './notification-queues';

type Roundable = Pick<ApprovalRequest, 'id' | 'tenantId' | 'createdAt' | 'escalateAfter' | 'remindAfter'>;


/** Enqueues notification jobs (and only enqueues: the processors handle them). */
@Injectable()
export class NotificationJobs {
  constructor(
    @InjectQueue(NotificationQueue.Rounds) private readonly rounds: RoundsQueue,
    @InjectQueue(NotificationQueue.Deliveries) private readonly deliveries: DeliveriesQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

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
    // One job is the common case on the hot path (parking a call); add is cheaper than addBulk there.
    if (jobs.length === 1) await this.rounds.add(jobs[0].name, jobs[0].data, jobs[0].opts);
    else if (jobs.length) await this.rounds.addBulk(jobs);
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

  async scheduleDeliveries(deliveries: Pick<NotificationDelivery, 'id' | 'tenantId' | 'channel'>[]): Promise<void> {
    if (!deliveries.length) return;
    await this.deliveries.addBulk(
      deliveries.map((d) => ({
        name: d.channel,
        data: { tenantId: d.tenantId, deliveryId: d.id },
        opts: { jobId: deliveryJobId(d.id), ...this.retries(), ...KEEP_FINISHED },
      })),
    );
  }

  /** For the reconciler: like scheduling, but a finished job whose work Postgres says is still owed is replaced. */
  async reviveRounds(owed: { request: Roundable; rounds: NotificationRound[] }[]): Promise<void> {
    const jobs = owed.flatMap(({ request, rounds }) => this.roundJobs(request, rounds));
    if (!jobs.length) return;
    await dropFinishedJobs(this.rounds, jobs.map((j) => j.opts.jobId));
    await this.rounds.addBulk(jobs);
  }

  async reviveDeliveries(deliveries: Pick<NotificationDelivery, 'id' | 'tenantId' | 'channel'>[]): Promise<void> {
    await dropFinishedJobs(this.deliveries, deliveries.map((d) => deliveryJobId(d.id)));
    await this.scheduleDeliveries(deliveries);
  }

  private retries() {
    return { attempts: this.config.NOTIFY_MAX_ATTEMPTS, backoff: { type: 'exponential' as const, delay: this.config.NOTIFY_BACKOFF_MS } };
  }
}
