import { timingSafeEqual } from 'node:crypto';
import { Counter, Histogram, Registry } from 'prom-client';

/** What the gateway did with tools/call requests, for Prometheus (GET /metrics with `metrics_token`). */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly calls = new Counter({
    name: 'countersign_gateway_tool_calls_total',
    help: 'tools/call requests by outcome: allowed, denied, awaiting_approval, approved, not_approved, refused, failed',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly decisions = new Histogram({
    name: 'countersign_gateway_authorize_seconds',
    help: 'Time to get a decision from Countersign (POST /v1/authorize)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly upstream = new Histogram({
    name: 'countersign_gateway_upstream_seconds',
    help: 'Time the upstream took for a forwarded call, by server',
    labelNames: ['server'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  call(outcome: 'allowed' | 'denied' | 'awaiting_approval' | 'approved' | 'not_approved' | 'refused' | 'failed'): void {
    this.calls.inc({ outcome });
  }
  decided(seconds: number): void {
    this.decisions.observe(seconds);
  }
  forwarded(server: string, seconds: number): void {
    this.upstream.observe({ server }, seconds);
  }
}

/** Constant-time comparison of the bearer against the configured metrics token. */
export function metricsAuthorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
