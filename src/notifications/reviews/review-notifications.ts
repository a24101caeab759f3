import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { REVIEW_SAMPLED, ReviewSampledEvent } from '../../authz/reviews/review-events';
import { Outbox } from '../../common/outbox/outbox.service';
import { KEEP_FINISHED } from '../../common/queues/revive-jobs';
import { QueueWorkerHost } from '../../common/queues/queue-worker.host';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { NotificationQueue } from '../notification-queues';
import { NotifyReviewers, ReviewNotifyResult } from './notify-reviewers.usecase';
import { ReviewJobData, reviewJobId, ReviewsQueue } from './review-notification-queue';

/** Enqueues only: a review.sampled outbox event becomes one job (deterministic id) that owes the reviewers their deliveries. */
@Injectable()
export class ReviewNotificationJobs implements OnModuleInit {
  constructor(
    @InjectQueue(NotificationQueue.Reviews) private readonly queue: ReviewsQueue,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.outbox.subscribe(REVIEW_SAMPLED, (events) => [
      {
        queue: this.queue,
        jobs: (events as unknown as ReviewSampledEvent[]).map((e) => ({
          name: 'review' as const,
          data: { tenantId: e.tenantId, reviewId: e.reviewId },
          opts: {
            jobId: reviewJobId(e.reviewId),
            attempts: this.config.NOTIFY_MAX_ATTEMPTS,
            backoff: { type: 'exponential' as const, delay: this.config.NOTIFY_BACKOFF_MS },
            ...KEEP_FINISHED,
          },
        })),
      },
    ]);
  }
}

/** Handles only: owes one review's reviewers their deliveries (the delivery jobs make and retry each). */
@Processor(NotificationQueue.Reviews)
export class ReviewNotificationProcessor extends QueueWorkerHost<ReviewJobData, 'review'> {
  constructor(
    private readonly notify: NotifyReviewers,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super({ review: true }, config.WORKER_CONCURRENCY);
  }

  protected handle(job: Job<ReviewJobData>): Promise<ReviewNotifyResult> {
    return this.notify.execute(job.data);
  }
}
