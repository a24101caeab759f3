import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuditEntry, AuditLog } from './audit-log.service';
import { currentRequestId } from '../common/logging/request-context';
import { GroupedCalls } from '../common/database/grouped-calls';
import { pgPool } from '../common/database/prepared-statements';

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
  private readonly commits: GroupedCalls<AuditEntry, never>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly log: AuditLog,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.commits = new GroupedCalls(
      (entries) => this.commit(entries),
      () => '',
      { maxInFlight: MAX_IN_FLIGHT, maxBatch: config.AUDIT_BATCH_MAX },
    );
  }

  /** Resolves once the event is committed. */
  async append(entry: AuditEntry): Promise<void> {
    // Captured now: the INSERT runs later, outside this request's context.
    await this.commits.call({ ...entry, requestId: entry.requestId ?? currentRequestId() ?? null });
  }

  private async commit(entries: AuditEntry[]): Promise<Map<string, never>> {
    const { sql, params } = this.log.insertStatement(entries);
    // Straight to the pg pool: TypeORM's query runner costs more than this one INSERT.
    await pgPool(this.dataSource).query({ text: sql, values: params });
    return new Map<string, never>();
  }

  async onApplicationShutdown(): Promise<void> {
    while (!this.commits.idle) await new Promise((r) => setTimeout(r, 5));
  }
}
