import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuditEntry, AuditLog } from './audit-log.service';
import { currentRequestId } from '../common/logging/request-context';

interface Pending {
  entry: AuditEntry;
  done: (error?: unknown) => void;
}

/**
 * Group commit for events that are not part of another transaction (e.g. authorization
 * decisions): while one multi-row INSERT commits, the next events queue up and go in the next
 * one. Every caller still waits until its own row is durable; under load, one commit carries
 * hundreds of events instead of one.
 */
/** Commits in flight at once: Postgres then groups their WAL flushes too (its own group commit). */
const MAX_IN_FLIGHT = 4;

@Injectable()
export class AuditBatcher implements OnApplicationShutdown {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly log: AuditLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Resolves once the event is committed. */
  append(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      // Captured now: the INSERT runs later, outside this request's context.
      this.queue.push({ entry: { ...entry, requestId: entry.requestId ?? currentRequestId() ?? null }, done: (e) => (e ? reject(e) : resolve()) });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length && this.inFlight < MAX_IN_FLIGHT) {
      const batch = this.queue.splice(0, this.config.AUDIT_BATCH_MAX);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    try {
      const { sql, params } = this.log.insertStatement(batch.map((p) => p.entry));
      // Straight to the pg pool: TypeORM's query runner costs more than this one INSERT.
      await (this.dataSource.driver as unknown as { master: { query(sql: string, params: unknown[]): Promise<unknown> } }).master.query(sql, params);
      for (const p of batch) p.done();
    } catch (e) {
      for (const p of batch) p.done(e);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.inFlight || this.queue.length) await new Promise((r) => setTimeout(r, 5));
  }
}
