import { Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GetApproval } from '../approvals/get-approval.usecase';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { ServiceQueues } from './service-queues';

/** The BullMQ job states exported per queue. */
// 'prioritized': jobs waiting behind the unprioritised ones (a round's later deliveries, deliveryPriority).
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;
/** A scrape must answer even when Postgres or Redis does not: each source gets this long. */
const COLLECT_TIMEOUT_MS = 2_000;
/** The queue gauges share one read of Redis per scrape (the registry collects them concurrently). */
const QUEUE_SNAPSHOT_TTL_MS = 1_000;

interface QueueCounts {
  queue: string;
  counts: Record<string, number>;
}

/**
 * The service's Prometheus metrics, on a registry of their own (served by GET /metrics). Other
 * modules record events through the small methods below; the gauges are read from Postgres and
 * Redis when Prometheus scrapes. Label values must come from small fixed sets (verdicts,
 * reason codes, statuses, channel names): never ids.
 */
@Injectable()
export class Metrics implements DomainMetrics {
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private queueSnapshot?: { at: number; counts: Promise<QueueCounts[] | undefined> };

  private readonly decisions = new Counter({
    name: 'countersign_decisions_total',
    help: 'Authorization decisions, by verdict and reason code (a decision with several reasons counts once per reason; "none" when it has none)',
    labelNames: ['verdict', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly decisionDuration = new Histogram({
    name: 'countersign_decision_duration_seconds',
    help: 'Time taken to reach an authorization decision, by verdict',
    labelNames: ['verdict'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly timeToDecision = new Histogram({
    name: 'countersign_time_to_decision_seconds',
    help: 'Time from parking an approval request to its settlement, by final status',
    labelNames: ['status'] as const,
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400],
    registers: [this.registry],
  });
  private readonly notificationDeliveries = new Counter({
    name: 'countersign_notification_deliveries_total',
    help: 'Notification delivery attempts, by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly callbackFailures = new Counter({
    name: 'countersign_callback_failures_total',
    help: 'Failed deliveries of ping/push callbacks to gateways',
    registers: [this.registry],
  });
  private readonly scrapeErrors = new Counter({
    name: 'countersign_metrics_collect_errors_total',
    help: 'Scrapes in which a source of gauges (postgres, redis) failed or timed out; those gauges are then absent',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly lifecycle: GetApproval,
    private readonly queues: ServiceQueues,
  ) {
    collectDefaultMetrics({ register: this.registry });

    const approvals: Gauge<'status'> = new Gauge({
      name: 'countersign_approvals',
      help: 'Approval requests by stored status, all tenants (a pending request past its expiry counts as pending until the expiry job runs)',
      labelNames: ['status'] as const,
      registers: [this.registry],
      collect: () => this.collectApprovals(approvals),
    });

    const queueFailures: Gauge<'queue'> = new Gauge({
      name: 'countersign_queue_failures_total',
      help: 'Failed jobs retained in each BullMQ queue (the "failed" count; it drops when failed jobs are retried or removed)',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      collect: () => this.collectQueueFailures(queueFailures),
    });
    const queueJobs: Gauge<'queue' | 'state'> = new Gauge({
      name: 'countersign_queue_jobs',
      help: 'Jobs in each BullMQ queue of the service, by state',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      collect: () => this.collectQueueJobs(queueJobs),
    });
  }

  /** An authorization decision was made (`reasons`: its reason codes). */
  decision(verdict: string, reasons: string[], seconds: number): void {
    for (const reason of reasons.length ? new Set(reasons) : ['none']) this.decisions.inc({ verdict, reason });
    this.decisionDuration.observe({ verdict }, seconds);
  }

  /** An approval request reached a final status, `secondsSinceParked` after it was parked. */
  approvalSettled(status: string, secondsSinceParked: number): void {
    this.timeToDecision.observe({ status }, secondsSinceParked);
  }

  /** One notification delivery attempt ended (`outcome` e.g. sent, failed, skipped). */
  notification(channel: string, outcome: string): void {
    this.notificationDeliveries.inc({ channel, outcome });
  }

  /** A ping/push callback to a gateway failed. */
  callbackFailed(): void {
    this.callbackFailures.inc();
  }

  private async collectApprovals(gauge: Gauge<'status'>): Promise<void> {
    gauge.reset();
    try {
      const rows = await withTimeout(this.lifecycle.countByStatus(), COLLECT_TIMEOUT_MS);
      for (const row of rows) gauge.set({ status: row.status }, row.n);
    } catch (e) {
      this.collectFailed('postgres', e);
    }
  }

  /** One read of the queues per scrape, shared by the gauges that report it. */
  private queueCounts(): Promise<QueueCounts[] | undefined> {
    const now = Date.now();
    if (!this.queueSnapshot || now - this.queueSnapshot.at > QUEUE_SNAPSHOT_TTL_MS) {
      const counts = withTimeout(
        Promise.all(this.queues.all().map(async (queue) => ({ queue: queue.name, counts: await queue.getJobCounts(...QUEUE_STATES) }))),
        COLLECT_TIMEOUT_MS,
      ).catch((e: unknown) => {
        this.collectFailed('redis', e);
        return undefined;
      });
      this.queueSnapshot = { at: now, counts };
    }
    return this.queueSnapshot.counts;
  }

  private async collectQueueJobs(gauge: Gauge<'queue' | 'state'>): Promise<void> {
    gauge.reset();
    for (const { queue, counts } of (await this.queueCounts()) ?? []) {
      for (const state of QUEUE_STATES) gauge.set({ queue, state }, counts[state] ?? 0);
    }
  }

  private async collectQueueFailures(gauge: Gauge<'queue'>): Promise<void> {
    gauge.reset();
    for (const { queue, counts } of (await this.queueCounts()) ?? []) gauge.set({ queue }, counts.failed ?? 0);
  }

  private collectFailed(source: string, e: unknown): void {
    this.scrapeErrors.inc({ source });
    this.logger.warn(`metrics: could not read from ${source}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
