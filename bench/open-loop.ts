/**
 * Latency at a fixed rate, open loop: requests are sent on a schedule (evenly spaced, checked
 * every millisecond), whether or not earlier ones have been answered, and each latency is counted from
 * the moment its request was due (so a stall that delays sending is counted, as wrk2 does).
 * autocannon's `overallRate` is not that: each connection sends its share of the second as fast as
 * it can at the start of every second, so "half the rate" is full load for half of each second,
 * and its coordinated-omission correction then adds synthetic samples for the gaps it made itself.
 */
import { Agent, request } from 'node:http';

export interface OpenLoopSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** The body of the n-th request (a fresh MCP session each, for instance). */
  body?: (n: number) => string;
  ratePerSecond: number;
  seconds: number;
  /** Sent and not counted, at the same rate, first. */
  warmUpSeconds?: number;
}

export interface OpenLoopResult {
  sent: number;
  /** Responses other than 2xx, and failed requests. */
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const TICK_MS = 1;

export async function openLoop(spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(spec.url);
  const warmUp = spec.warmUpSeconds ?? 2;
  const total = Math.round(spec.ratePerSecond * (warmUp + spec.seconds));
  const counted = Math.round(spec.ratePerSecond * warmUp);
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  let answered = 0;

  const send = (n: number, due: number) =>
    new Promise<void>((resolve) => {
      const body = spec.body?.(n);
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: spec.method ?? 'GET',
          headers: { ...spec.headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (n >= counted) {
              if (res.statusCode! < 200 || res.statusCode! >= 300) failed++;
              else latencies.push(performance.now() - due);
            }
            resolve();
          });
        },
      );
      req.on('error', () => {
        if (n >= counted) failed++;
        resolve();
      });
      req.end(body);
    });

  await new Promise<void>((done) => {
    const start = performance.now();
    const interval = 1000 / spec.ratePerSecond;
    const tick = () => {
      const now = performance.now();
      // Every request due by now goes out, stamped with the time it was due.
      while (sent < total && start + sent * interval <= now) {
        const n = sent++;
        void send(n, start + n * interval).then(() => {
          if (++answered === total) done();
        });
      }
      if (sent < total) setTimeout(tick, TICK_MS);
    };
    tick();
  });
  agent.destroy();

  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10 : NaN);
  return { sent: total - counted, failed, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}
