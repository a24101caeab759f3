import { Processor } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { Job } from 'bullmq';
import { QueueWorkerHost } from '../common/queues/queue-worker.host';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DeliverNotification } from './deliver-notification.usecase';
import { DeliveryResult } from './delivery-finish';
import type { NotificationChannel, NotificationRound } from './notification-delivery.entity';
import { DeliveryJobData, NotificationQueue, RoundJobData } from './notification-queues';
import { NotifyApprovers, RoundResult } from './notify-approvers.usecase';

/** Runs notification rounds (initial, escalation, reminder). */
@Processor(NotificationQueue.Rounds)
export class NotificationRoundProcessor extends QueueWorkerHost<RoundJobData, NotificationRound> {
  constructor(
    private readonly notify: NotifyApprovers,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super({ initial: true, escalation: true, reminder: true }, config.WORKER_CONCURRENCY);
  }

  protected async handle(job: Job<RoundJobData>): Promise<RoundResult> {
    const result = await this.notify.execute(job.data);
    if (result === 'not-due') throw new Error('not due yet');
    return result;
  }
}

/** Makes deliveries; a transient failure is thrown so that BullMQ retries with backoff. */
@Processor(NotificationQueue.Deliveries)
export class NotificationDeliveryProcessor extends QueueWorkerHost<DeliveryJobData, NotificationChannel> {
  constructor(
    private readonly deliver: DeliverNotification,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super({ email: true, push: true }, config.WORKER_CONCURRENCY);
  }

  protected async handle(job: Job<DeliveryJobData>): Promise<DeliveryResult> {
    const { attempt, lastAttempt } = this.attemptOf(job);
    const result = await this.deliver.execute(job.data, attempt, lastAttempt);
    if (result === 'retry') {
      this.logger.warn(`${job.name} delivery ${job.data.deliveryId} failed (attempt ${attempt}); will retry`);
      throw new Error('notification delivery failed; retrying');
    }
    return result;
  }
}
