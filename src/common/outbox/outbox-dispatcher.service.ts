import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Outbox, OutboxJobs } from './outbox.service';
import { transactionBegunWithStatements } from '../database/transaction-begun-with';

/** A Redis that does not answer within this long fails the batch (its rows stay for the next try). */
const REDIS_TIMEOUT_MS = 5000;
const MAX_BACKOFF_MS = 5000;

interface OutboxRow {
  id: string;
  topic: string;
  payload: Record<string, unknown>;
}

/** A seam for tests: runs after the batch's jobs are in Redis and before its rows are deleted (a crash there). */
export type AfterAdd = (ids: string[]) => Promise<void>;

/**
 * Moves outbox events to BullMQ, in the worker processes. A batch is claimed with
 * `DELETE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, its jobs are added (one
 * addBulk per queue, all queues at once), and only then does the deletion commit. So several
 * workers never take the same rows; a failure or a crash before the commit rolls the deletion
 * back and the rows are dispatched again later, where the deterministic job ids make BullMQ
 * keep the job it already has. Nothing here schedules anything: delays are BullMQ's.
 *
 * It runs when a commit in this process wrote events (Outbox.committed), and otherwise every
 * OUTBOX_POLL_INTERVAL_MS for the events of other processes (an API-only instance). Wakes that
 * come during a batch make one more batch after it, so under load many commits share a batch.
 */
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxDispatcher.name);
  private running: Promise<void> | null = null;
  private again = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;
  private dueAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: Outbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.outbox.onCommit(() => this.wake());
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.outbox.onCommit(undefined);
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * A commit wrote events: dispatch within OUTBOX_LINGER_MS (or right after the batch in flight).
   * The linger lets the commits of that moment share one batch. Ignored while backing off from a failure.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer && (this.failures || this.dueAt <= Date.now() + this.config.OUTBOX_LINGER_MS)) return;
    this.schedule(this.config.OUTBOX_LINGER_MS);
  }

  private schedule(wait: number): void {
    clearTimeout(this.timer);
    this.dueAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, wait);
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped || this.running) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.stopped) return;
      // Events committed during the last batch's round trips wait no longer than the linger.
      const wait = this.failures
        ? Math.min(MAX_BACKOFF_MS, this.config.OUTBOX_POLL_INTERVAL_MS * 2 ** this.failures)
        : this.again
          ? this.config.OUTBOX_LINGER_MS
          : this.config.OUTBOX_POLL_INTERVAL_MS;
      this.again = false;
      this.schedule(wait);
    });
  }

  /** Full batches until the outbox has fewer left than a batch (or a batch fails: the timer retries with backoff). */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        const ids = await this.dispatchBatch();
        if (this.failures) this.logger.log('outbox dispatch works again');
        this.failures = 0;
        if (this.stopped || ids.length < this.config.OUTBOX_BATCH_SIZE) return;
      }
    } catch (e) {
      // Said once per outage; the rows wait in Postgres.
      if (!this.failures) this.logger.warn(`outbox dispatch failed, will retry: ${(e as Error).message}`);
      this.failures++;
    }
  }

  /** One batch: claim, add the jobs, commit the deletion. Returns the ids dispatched. */
  async dispatchBatch(afterAdd?: AfterAdd): Promise<string[]> {
    // BEGIN and the claim go in one round trip (the batch size is a validated integer). The
    // deletion need not wait for its WAL flush: if Postgres loses it in a crash, the rows come back
    // and are dispatched again, which the job ids make harmless.
    return transactionBegunWithStatements(
      this.dataSource,
      () => [
        'SET LOCAL synchronous_commit = off',
        `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ${Number(this.config.OUTBOX_BATCH_SIZE)} FOR UPDATE SKIP LOCKED) RETURNING id::text, topic, payload`,
      ],
      async ([, claimed]) => {
        const rows = claimed as unknown as OutboxRow[];
        if (rows.length) {
          await withTimeout(this.addJobs(rows), REDIS_TIMEOUT_MS);
          await afterAdd?.(rows.map((r) => r.id));
        }
        return rows.map((r) => r.id);
      },
    );
  }

  private async addJobs(rows: OutboxRow[]): Promise<void> {
    const byTopic = new Map<string, Record<string, unknown>[]>();
    for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row.payload]);
    const byQueue = new Map<Queue, OutboxJobs['jobs']>();
    for (const [topic, payloads] of byTopic) {
      const subscribers = this.outbox.subscribersOf(topic);
      // A topic nobody handles is a bug, not an outage: keeping its rows would only make every batch read them again.
      if (!subscribers.length) this.logger.error(`no subscriber for outbox topic ${topic}: ${payloads.length} event(s) dropped`);
      for (const subscriber of subscribers) {
        for (const { queue, jobs } of subscriber(payloads)) byQueue.set(queue, [...(byQueue.get(queue) ?? []), ...jobs]);
      }
    }
    await Promise.all([...byQueue].filter(([, jobs]) => jobs.length).map(([queue, jobs]) => queue.addBulk(jobs)));
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
