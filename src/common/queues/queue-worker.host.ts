import { WorkerHost } from '@nestjs/bullmq';
import { type Job, UnrecoverableError } from 'bullmq';
import { BeforeApplicationShutdown, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { JobAttempt, jobAttempt } from './job-attempt';

/**
 * A BullMQ processor with the service's worker settings. It names the jobs it handles as a record
 * over its queue's job-name union, so leaving a name out (or adding one the queue does not take)
 * is a compile error; a job under any other name fails at once, unretried, instead of running as
 * something it is not. A worker's 'error' event (e.g. Redis
 * lost a job's keys mid-run) would crash the process if nobody listened; here it is logged, and
 * Postgres plus the reconciler make sure the work is redone. On shutdown, running jobs finish first.
 */
export abstract class QueueWorkerHost<Data = unknown, Name extends string = string>
  extends WorkerHost
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  protected readonly logger = new Logger(this.constructor.name);
  private readonly names: ReadonlySet<string>;

  constructor(
    handles: Record<Name, true>,
    private readonly concurrency?: number,
  ) {
    super();
    this.names = new Set(Object.keys(handles));
  }

  async process(job: Job<Data, unknown, string>): Promise<unknown> {
    if (!this.names.has(job.name)) throw new UnrecoverableError(`no handler for a job named "${job.name}" (this queue takes ${[...this.names].join(', ')})`);
    return this.handle(job as Job<Data, unknown, Name>);
  }

  /** Runs one job of a name this processor handles. */
  protected abstract handle(job: Job<Data, unknown, Name>): Promise<unknown>;

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
