import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalJobData, ApprovalQueue, callbackJobId, expiryJobId } from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';

type Schedulable = Pick<ApprovalRequest, 'id' | 'tenantId' | 'expiresAt'>;

/** Enqueues the lifecycle's jobs (and only enqueues: the processors handle them). */
@Injectable()
export class ApprovalJobs {
  constructor(
    @InjectQueue(ApprovalQueue.Expiry) private readonly expiryQueue: Queue<ApprovalJobData>,
    @InjectQueue(ApprovalQueue.Callbacks) private readonly callbackQueue: Queue<ApprovalJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async scheduleExpiry(...requests: Schedulable[]): Promise<void> {
    if (requests.length === 0) return;
    const now = Date.now();
    await this.expiryQueue.addBulk(
      requests.map((r) => ({
        name: 'expire',
        data: { tenantId: r.tenantId, approvalId: r.id },
        opts: {
          jobId: expiryJobId(r.id),
          delay: Math.max(0, r.expiresAt.getTime() - now),
          attempts: 10,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
  }

  async cancelExpiry(approvalId: string): Promise<void> {
    // A removed job is only an optimisation: the expiry handler skips settled requests anyway.
    await this.expiryQueue.remove(expiryJobId(approvalId)).catch(() => undefined);
  }

  async scheduleCallback(...requests: Pick<ApprovalRequest, 'id' | 'tenantId'>[]): Promise<void> {
    if (requests.length === 0) return;
    await this.callbackQueue.addBulk(
      requests.map((r) => ({
        name: 'deliver',
        data: { tenantId: r.tenantId, approvalId: r.id },
        opts: {
          jobId: callbackJobId(r.id),
          attempts: this.config.CALLBACK_MAX_ATTEMPTS,
          backoff: { type: 'exponential', delay: this.config.CALLBACK_BACKOFF_MS },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
  }
}
