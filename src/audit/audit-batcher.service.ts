import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuditEntry, AuditLog } from './audit-log.service';

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
@Injectable()
export class AuditBatcher implements OnApplicationShutdown {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly log: AuditLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Resolves once the event is committed. */
  append(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, done: (e) => (e ? reject(e) : resolve()) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.config.AUDIT_BATCH_MAX);
        try {
          const { sql, params } = this.log.insertStatement(batch.map((p) => p.entry));
          await this.dataSource.query(sql, params);
          for (const p of batch) p.done();
        } catch (e) {
          for (const p of batch) p.done(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise((r) => setTimeout(r, 5));
  }
}
