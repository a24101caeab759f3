import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedisConnections } from '../common/redis/redis.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalJobs, expiryHorizonSeconds } from './approval-jobs.service';
import { ApprovalRequest } from './approval-request.entity';
import { ApproverRouting, ReconcileScope } from './approver-routing.port';

const PAGE = 1000;
/** Written before every full reconciliation; its absence means Redis lost its data since. */
const MARKER = 'reconciler:marker';

/**
 * Postgres is the truth, Redis only schedules. At start-up this re-adds the job every open
 * request needs (expiry for pending ones due within the horizon, expiryHorizonSeconds; the
 * callback for settled-but-undelivered ones; the notification rounds and deliveries still
 * owed). Job ids are deterministic, so re-adding a job that still exists is a no-op; a finished
 * job (completed or failed) whose request still needs it is replaced. It runs again every
 * RECONCILE_INTERVAL_SECONDS (a BullMQ job scheduler),
 * whenever Redis comes back after a disconnect, and whenever Redis turns out to have lost its
 * data while the connection stayed up (FLUSHALL, a failover to an empty replica).
 *
 * That last case cannot rely on anything Redis holds: the flush removes the job scheduler
 * too. So a plain timer in this process (REDIS_LOSS_CHECK_INTERVAL_MS) checks for a marker key
 * written at reconcile time, and for the scheduler; either missing means the jobs are gone.
 * Every worker instance that notices reconciles: that is idempotent, and needs no election that
 * a crash could leave half done.
 */
@Injectable()
export class ApprovalsReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ApprovalsReconciler.name);
  private timer?: NodeJS.Timeout;
  /** The run in progress (one at a time per process), and whether another was asked for meanwhile. */
  private running: Promise<void> | null = null;
  private again = false;
  /** The last run failed: the next check reconciles whatever the marker says. */
  private owed = false;
  private checking = false;
  private unreachable = false;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly jobs: ApprovalJobs,
    private readonly redis: RedisConnections,
    private readonly routing: ApproverRouting,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    // In the background: with 100,000 pending requests the rebuild takes minutes, and the worker's
    // processors (and the API in one-process mode) need not wait for it; re-adding is idempotent.
    // A failure is retried by the timer's next check.
    void this.reconcileSoon('start-up');
    // 'ready' fires again after every reconnect: the Redis we talk to now may have lost our jobs.
    this.redis.commands.on('ready', () => void this.reconcileSoon('after a Redis reconnect'));
    this.timer = setInterval(() => void this.checkForLostData(), this.config.REDIS_LOSS_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // Let a run finish while Redis and Postgres are still open (it is idempotent if cut short anyway).
    await this.running;
  }

  async reconcileAndSchedule(): Promise<void> {
    // The marker goes first: a flush during the run removes it, and the next check runs again.
    await this.redis.commands.set(this.redis.key(MARKER), new Date().toISOString());
    const { expiries, callbacks, notifications } = await this.reconcile();
    await this.jobs.scheduleReconciliation(this.config.RECONCILE_INTERVAL_SECONDS);
    if (expiries || callbacks || notifications) {
      this.logger.log(`reconciled ${expiries} expiry, ${callbacks} callback and ${notifications} notification job(s) from Postgres`);
    }
  }

  /**
   * Every open request's jobs, or (the scheduled pass) only the scope's: see ReconcileScope. Expiry
   * jobs, in either, only for requests due within the horizon (expiryHorizonSeconds): the scheduled
   * passes add the rest as they come due, so a rebuild after Redis lost its data does not put a job
   * in Redis for every pending request.
   */
  async reconcile(scope?: ReconcileScope): Promise<{ expiries: number; callbacks: number; notifications: number }> {
    const horizon = expiryHorizonSeconds(this.config);
    const pending = Number.isFinite(horizon) ? `r.status = 'pending' AND r.expires_at < now() + make_interval(secs => ${horizon})` : `r.status = 'pending'`;
    const expiries = await this.forEachPage(pending, (page) => this.jobs.reviveExpiry(...page));
    // Settled requests whose callback is owed are few and short-lived: always all of them.
    const callbacks = await this.forEachPage(`r.callback_state = 'pending'`, (page) => this.jobs.reviveCallback(...page));
    const notifications = await this.routing.reconcile(scope);
    return { expiries, callbacks, notifications };
  }

  /**
   * What the scheduled pass covers (see ReconcileScope): work due before the pass after next, and
   * deliveries queued for a minute. Its look ahead is also where expiry jobs come from for requests
   * parked further out (expiryHorizonSeconds).
   */
  scheduledScope(): ReconcileScope {
    return { dueWithinSeconds: expiryHorizonSeconds(this.config), graceSeconds: 60 };
  }

  /** The timer's check: has Redis lost its data since the last run? Then rebuild everything. */
  async checkForLostData(): Promise<void> {
    if (this.checking || this.running || this.stopped) return;
    this.checking = true;
    try {
      const reason = await this.lostData();
      if (this.unreachable) this.logger.log('Redis answers again');
      this.unreachable = false;
      if (reason) {
        this.logger.warn(`${reason}: rebuilding every job from Postgres`);
        await this.reconcileSoon(reason);
      }
    } catch (e) {
      // Redis is down: the 'ready' event reconciles when it is back. Said once per outage.
      if (!this.unreachable) this.logger.warn(`cannot check Redis for lost jobs: ${(e as Error).message}`);
      this.unreachable = true;
    } finally {
      this.checking = false;
    }
  }

  private async lostData(): Promise<string | null> {
    if (this.owed) return 'the last reconciliation failed';
    if (!(await this.redis.commands.exists(this.redis.key(MARKER)))) return 'Redis lost its data (the reconciler marker is gone)';
    if (this.config.RECONCILE_INTERVAL_SECONDS > 0 && !(await this.jobs.hasReconciliationSchedule())) {
      return 'Redis lost its data (the reconcile scheduler is gone)';
    }
    return null;
  }

  /** One run at a time; asking during a run queues exactly one more after it. A failure is retried by the next check. */
  private reconcileSoon(reason: string): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcileAndSchedule();
          this.owed = false;
        } catch (e) {
          this.owed = true;
          this.logger.error(`reconcile (${reason}) failed: ${(e as Error).message}`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Keyset pagination over the requests matching `where`; returns how many there were. */
  private async forEachPage(where: string, handle: (page: ApprovalRequest[]) => Promise<void>): Promise<number> {
    let count = 0;
    for (let after = ''; ;) {
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
