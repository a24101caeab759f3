import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuditCheckpoints } from './audit-checkpoints.service';
import { AuditSealer } from './audit-sealer.service';

/**
 * Where workers run: seals new events every AUDIT_SEAL_INTERVAL_MS and signs checkpoints every
 * AUDIT_CHECKPOINT_INTERVAL_SECONDS. Each pass is safe on any number of instances (advisory locks
 * per tenant, one checkpoint per (tenant, seq)). On shutdown, one last pass seals what is left.
 */
@Injectable()
export class AuditMaintenance implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditMaintenance.name);
  private timers: NodeJS.Timeout[] = [];
  private sealing?: Promise<unknown>;

  constructor(
    private readonly sealer: AuditSealer,
    private readonly checkpoints: AuditCheckpoints,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.RUN_WORKERS) return;
    this.timers.push(setInterval(() => this.seal(), this.config.AUDIT_SEAL_INTERVAL_MS));
    if (this.config.AUDIT_CHECKPOINT_INTERVAL_SECONDS > 0) {
      this.timers.push(setInterval(() => this.checkpoint(), this.config.AUDIT_CHECKPOINT_INTERVAL_SECONDS * 1000));
    }
  }

  /** One pass at a time per process: a slow pass is not stacked on. */
  seal(): Promise<unknown> {
    this.sealing ??= this.sealer
      .sealAll()
      .catch((e) => this.logger.error(`sealing the audit chain failed: ${(e as Error).message}`))
      .finally(() => (this.sealing = undefined));
    return this.sealing;
  }

  private checkpoint(): void {
    this.seal()
      .then(() => this.checkpoints.checkpointAll())
      .catch((e) => this.logger.error(`audit checkpoint failed: ${(e as Error).message}`));
  }

  /** Before the database connection closes (which happens on application shutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.config.RUN_WORKERS) await this.seal();
  }
}
