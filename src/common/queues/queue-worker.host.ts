import { WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { JobAttempt, jobAttempt } from './job-attempt';

/**
 * A BullMQ processor with the service's worker settings. A worker's 'error' event (e.g. Redis
 * lost a job's keys mid-run) would crash the process if nobody listened; here it is logged, and
 * Postgres plus the reconciler make sure the work is redone. On shutdown, running jobs finish first.
 */
export abstract class QueueWorkerHost extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected readonly logger = new Logger(this.constructor.name);

  constructor(private readonly concurrency?: number) {
    super();
  }

  // After bootstrap: @nestjs/bullmq creates the worker during module init.
  onApplicationBootstrap(): void {
    if (this.concurrency) this.worker.concurrency = this.concurrency;
    this.worker.on('error', (e) => this.logger.error(`queue worker error: ${e.message}`));
  }

  /** This run's attempt number (from 1), and whether the queue will retry after it. */
  protected attemptOf(job: Job): JobAttempt {
    return jobAttempt(job.attemptsMade, job.opts.attempts);
  }

  /**
   * Graceful shutdown: take no new jobs and let the running ones finish while the database and
   * Redis connections are still open (they close on application shutdown, after this).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }
}
