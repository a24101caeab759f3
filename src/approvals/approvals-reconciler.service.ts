import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApprovalJobs } from './approval-jobs.service';
import { ApprovalRequest } from './approval-request.entity';

const PAGE = 1000;

/**
 * Postgres is the truth, Redis only schedules. At start-up this re-adds the job every open
 * request needs (expiry for pending ones, the callback for settled-but-undelivered ones).
 * Job ids are deterministic, so re-adding a job that still exists is a no-op.
 */
@Injectable()
export class ApprovalsReconciler implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApprovalsReconciler.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly jobs: ApprovalJobs,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { expiries, callbacks } = await this.reconcile();
    if (expiries || callbacks) this.logger.log(`reconciled ${expiries} expiry and ${callbacks} callback job(s) from Postgres`);
  }

  async reconcile(): Promise<{ expiries: number; callbacks: number }> {
    let expiries = 0;
    let callbacks = 0;
    for (let after = ''; ; ) {
      const page = await this.dataSource.manager
        .createQueryBuilder(ApprovalRequest, 'r')
        .select(['r.id', 'r.tenantId', 'r.expiresAt'])
        .where(`r.status = 'pending' AND r.id > :after`, { after })
        .orderBy('r.id')
        .limit(PAGE)
        .getMany();
      await this.jobs.scheduleExpiry(...page);
      expiries += page.length;
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    for (let after = ''; ; ) {
      const page = await this.dataSource.manager
        .createQueryBuilder(ApprovalRequest, 'r')
        .select(['r.id', 'r.tenantId'])
        .where(`r.callback_state = 'pending' AND r.id > :after`, { after })
        .orderBy('r.id')
        .limit(PAGE)
        .getMany();
      await this.jobs.scheduleCallback(...page);
      callbacks += page.length;
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    return { expiries, callbacks };
  }
}
