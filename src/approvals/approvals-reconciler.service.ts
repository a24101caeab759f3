import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedisConnections } from '../common/redis/redis.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalJobs } from './approval-jobs.service';
import { ApprovalRequest } from './approval-request.entity';
import { ApproverRouting } from './approver-routing.port';

const PAGE = 1000;

/**
 * Postgres is the truth, Redis only schedules. At start-up this re-adds the job every open
 * request needs (expiry for pending ones, the callback for settled-but-undelivered ones).
 * Job ids are deterministic, so re-adding a job that still exists is a no-op; a finished job
 * (completed or failed) whose request still needs it is replaced. It runs again every
 * RECONCILE_INTERVAL_SECONDS (a BullMQ job scheduler) and whenever Redis comes back after a
 * disconnect, since a restarted Redis without persistence has lost every job.
 */
@Injectable()
export class ApprovalsReconciler implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApprovalsReconciler.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly jobs: ApprovalJobs,
    private readonly redis: RedisConnections,
    private readonly routing: ApproverRouting,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.reconcileAndSchedule();
    // 'ready' fires again after every reconnect: the Redis we talk to now may have lost our jobs.
    this.redis.commands.on('ready', () => {
      this.reconcileAndSchedule().catch((e) => this.logger.error(`reconcile after reconnect failed: ${(e as Error).message}`));
    });
  }

  async reconcileAndSchedule(): Promise<void> {
    const { expiries, callbacks, notifications } = await this.reconcile();
    await this.jobs.scheduleReconciliation(this.config.RECONCILE_INTERVAL_SECONDS);
    if (expiries || callbacks || notifications) {
      this.logger.log(`reconciled ${expiries} expiry, ${callbacks} callback and ${notifications} notification job(s) from Postgres`);
    }
  }

  async reconcile(): Promise<{ expiries: number; callbacks: number; notifications: number }> {
    const expiries = await this.forEachPage(`r.status = 'pending'`, (page) => this.jobs.reviveExpiry(...page));
    const callbacks = await this.forEachPage(`r.callback_state = 'pending'`, (page) => this.jobs.reviveCallback(...page));
    const notifications = await this.routing.reconcile();
    return { expiries, callbacks, notifications };
  }

  /** Keyset pagination over the requests matching `where`; returns how many there were. */
  private async forEachPage(where: string, handle: (page: ApprovalRequest[]) => Promise<void>): Promise<number> {
    let count = 0;
    for (let after = ''; ; ) {
      const page = await this.dataSource.manager
        .createQueryBuilder(ApprovalRequest, 'r')
        .select(['r.id', 'r.tenantId', 'r.expiresAt'])
        .where(`${where} AND r.id > :after`, { after })
        .orderBy('r.id')
        .limit(PAGE)
        .getMany();
      await handle(page);
      count += page.length;
      if (page.length < PAGE) return count;
      after = page[page.length - 1].id;
    }
  }
}
