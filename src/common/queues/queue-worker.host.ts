import { WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';

/**
 * A BullMQ processor with the service's worker settings. A worker's 'error' event (e.g. Redis
 * lost a job's keys mid-run) would crash the process if nobody listened; here it is logged, and
 * Postgres plus the reconciler make sure the work is redone.
 */
export abstract class QueueWorkerHost extends WorkerHost implements OnApplicationBootstrap {
  protected readonly logger = new Logger(this.constructor.name);

  constructor(private readonly concurrency?: number) {
    super();
  }

  // After bootstrap: @nestjs/bullmq creates the worker during module init.
  onApplicationBootstrap(): void {
    if (this.concurrency) this.worker.concurrency = this.concurrency;
    this.worker.on('error', (e) => this.logger.error(`queue worker error: ${e.message}`));
  }
}
