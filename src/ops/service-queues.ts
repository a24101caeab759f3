import { getQueueToken } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { ApprovalQueue } from '../approvals/approval-queues';
import { NotificationQueue } from '../notifications/notification-queues';

/** Every BullMQ queue of the service, by name: what the metrics and the dashboard watch. */
const SERVICE_QUEUES: readonly string[] = [...Object.values(ApprovalQueue), ...Object.values(NotificationQueue)];

/**
 * The service's own Queue handles, as registered by the approvals and notifications modules
 * (BullModule.registerQueue): reusing them keeps their prefix and connection settings, and
 * opens no extra Redis connections. Resolved on first use, after every provider exists; a
 * queue that no module registers fails loudly then.
 */
@Injectable()
export class ServiceQueues {
  private queues?: Queue[];

  constructor(private readonly moduleRef: ModuleRef) {}

  all(): Queue[] {
    this.queues ??= SERVICE_QUEUES.map((name) => this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }));
    return this.queues;
  }
}
