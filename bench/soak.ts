/**
 * npm run soak: a steady mixed load for a while (issue 14, "Soak and scale"), with the service's
 * memory, handles and event-loop lag sampled over time, to show that nothing grows.
 *
 * One service process (API and workers, demo mode, its own database and Redis prefix, both removed
 * afterwards) and, in this process, a callback sink and the load:
 * - approval traffic at SOAK_PARKS_PER_SECOND (default 5): parks of five kinds (approved by a vote
 *   through an approver link, then redeemed; denied; left to expire in 5-15 s; with a ping
 *   callback, approved; with a ping callback, left to expire), each followed by status reads, and
 *   the approved ones by a long-poll that the vote resumes; an authorization decision per park;
 * - a policy loop in a tenant of its own: publish and activate a 39-policy set, then a decision
 *   that compiles it, every SOAK_PUBLISH_INTERVAL_MS (default 1000; the loop that once killed the
 *   service at its 115th-126th publish);
 * - every SOAK_SAMPLE_SECONDS (default 10): the service's RSS (/proc), heap, active handles and
 *   resources, event-loop lag p99 since the last sample (its /metrics), the bytes of its Redis keys
 *   and the pending requests in Postgres.
 * SOAK_SECONDS (default 600) sets the length. Prints a summary and writes bench/soak-results.json.
 * Memory figures are fitted by least squares after the first minute (warm-up: JIT, pools, caches).
 * SOAK_KEEP_DB=1 keeps the database. BENCH_NODE_ARGS passes flags to the service (e.g.
 * "--heapsnapshot-signal=SIGUSR2" or "--cpu-prof --cpu-prof-dir=DIR").
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server as HttpServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { JWK } from 'jose';
import { Client } from 'pg';
import { Agent, request } from 'undici';
import { DEV_AGENT_ISSUER, DEV_GATEWAY_ISSUER, ensureDevKeys } from '../src/common/keys/key-files';
import { benchRedisPrefix, devSigner, dropDatabase, forgetRedisKeys, linkMinter, percentile, resetDatabase, ROOT, round, startServer, stop } from './support';
import { thirtyNinePolicies as thirtyNine } from './fixtures/thirty-nine-policies';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const PARKS_PER_SECOND = Number(process.env.SOAK_PARKS_PER_SECOND ?? 5);
const PUBLISH_INTERVAL_MS = Number(process.env.SOAK_PUBLISH_INTERVAL_MS ?? 1000);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const WARM_UP_SECONDS = Math.min(60, SECONDS / 4);
const DB_NAME = 'countersign_soak';
const TENANT = 'acme';
const POLICY_TENANT = 'soak-policies';
const PORT = Number(process.env.SOAK_PORT ?? 3921);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const log = (msg: string) => process.stdout.write(`[soak ${elapsed().toFixed(0).padStart(4)}s] ${msg}\n`);

// --- requests, counted by kind ------------------------------------------------------------------

interface Tally {
  count: number;
  statuses: Record<string, number>;
  /** Latencies by minute of the run, to compare the first minutes with the last. */
  ms: number[][];
}
const tallies = new Map<string, Tally>();
const unexpected: string[] = [];
const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 30_000 });

async function call(kind: string, method: 'GET' | 'POST' | 'PUT', url: string, token: string | undefined, body?: unknown, expect: number[] = [200]) {
  const t = tallies.get(kind) ?? { count: 0, statuses: {}, ms: [] };
  tallies.set(kind, t);
  const t0 = performance.now();
  let status = 0;
  let parsed: any;
  try {
    const res = await request(url, {
      method,
      dispatcher,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    status = res.statusCode;
    const text = await res.body.text();
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  } catch (e) {
    parsed = { error: (e as Error).message };
  }
  const ms = performance.now() - t0;
  t.count++;
  t.statuses[status] = (t.statuses[status] ?? 0) + 1;
  const minute = Math.floor(elapsed() / 60);
  (t.ms[minute] ??= []).push(ms);
  if (!expect.includes(status) && unexpected.length < 30) unexpected.push(`${kind} ${status} ${JSON.stringify(parsed).slice(0, 200)}`);
  return { status, body: parsed };
}

// --- the callback sink -------------------------------------------------------------------------

const callbackKeys = new Set<string>();
let callbacksReceived = 0;
function sink(): Promise<HttpServer> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      callbacksReceived++;
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') callbackKeys.add(key);
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- samples -------------------------------------------------------------------------------------

interface Sample {
  t: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  handles: number;
  resources: number;
  lagP99Ms: number;
  redisKeys: number;
  redisKb: number;
  pending: number;
  publishes: number;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The run's Redis keys and their bytes, in all and by kind (a queue's job hashes, its sets, other keys). */
async function redisUsage(redis: Redis, prefix: string): Promise<{ keys: number; bytes: number; byKind: Record<string, { keys: number; kb: number }> }> {
  let keys = 0;
  let bytes = 0;
  const byKind: Record<string, { keys: number; kb: number }> = {};
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys += found.length;
    for (const key of found) {
      const b = Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      bytes += b;
      // "<prefix>-bull:<queue>:<job id or set name>[:…]": job ids collapse into one kind per queue.
      const tail = key.slice(prefix.length);
      const [queue, rest = ''] = tail.replace(/^-bull:/, '').split(/:(.*)/s);
      const kind = tail.startsWith('-bull:')
        ? `${queue}:${/^[a-z-]+$/.test(rest) ? rest : 'job'}`
        : `not a queue: ${tail.split(':').filter(Boolean)[0] ?? tail}`;
      const k = (byKind[kind] ??= { keys: 0, kb: 0 });
      k.keys++;
      k.kb = round(k.kb + b / 1024, 1);
    }
  } while (cursor !== '0');
  return { keys, bytes, byKind };
}

/** Least-squares slope of y over t (seconds), per minute. */
function slopePerMinute(points: { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return (num / den) * 60;
}

async function main(): Promise<void> {
  const keysDir = mkdtempSync(join(tmpdir(), 'countersign-soak-'));
  const keys = await ensureDevKeys(keysDir);
  const databaseUrl = await resetDatabase(DB_NAME);
  const redisPrefix = benchRedisPrefix('soak');
  const callbacks = await sink();
  const sinkUrl = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/cb`;
  const publicUrl = `http://127.0.0.1:${PORT}`;
  const env = {
    DEMO_MODE: 'true',
    KEYS_DIR: keysDir,
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: redisPrefix,
    PUBLIC_URL: publicUrl,
    CALLBACK_ALLOWED_HOSTS: '127.0.0.1',
    CALLBACK_ALLOW_HTTP: 'true',
    SMTP_URL: '',
  };
  const server = await startServer(env, PORT);
  const pid = server.proc.pid!;
  const sign = devSigner(JSON.parse(readFileSync(keys.gatewayPrivateKeyFile, 'utf8')) as JWK);
  const gateway = await sign({ tenant: TENANT }, DEV_GATEWAY_ISSUER, 'soak-gateway');
  const policyAdmin = await sign({ tenant: POLICY_TENANT, scope: 'countersign:admin' }, DEV_GATEWAY_ISSUER, 'soak-idp');
  const policyGateway = await sign({ tenant: POLICY_TENANT }, DEV_GATEWAY_ISSUER, 'soak-gateway');
  const operator = await sign({ tenant: 'platform', scope: 'countersign:operator' }, DEV_GATEWAY_ISSUER, 'dev-operator');
  const agentClaims = (tenant: string) => ({
    tenant,
    act: { sub: 'spiffe://acme.example/agents/soak' },
    agent_class: 'assistant',
    trust_level: 'first_party_certified',
  });
  const agent = await sign(agentClaims(TENANT), DEV_AGENT_ISSUER, 'alice');
  const policyAgent = await sign(agentClaims(POLICY_TENANT), DEV_AGENT_ISSUER, 'alice');
  const mintLink = await linkMinter(keys.signingKeysFile, publicUrl, TENANT);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();

  const samples: Sample[] = [];
  let redisByKind: Record<string, { keys: number; kb: number }> = {};
  let publishes = 0;
  let publishFailures = 0;
  let parks = 0;
  let owedCallbacks = 0;
  let stopping = false;
  let serverDied: string | undefined;
  server.proc.once('exit', (code, signal) => {
    if (!stopping) serverDied = `the service exited (${code ?? signal}) at ${elapsed().toFixed(0)} s`;
  });

  const sample = async () => {
    const metrics = await call('metrics scrape', 'GET', `${publicUrl}/metrics`, operator);
    const text = typeof metrics.body === 'string' ? metrics.body : '';
    const r = await redisUsage(redis, redisPrefix);
    redisByKind = r.byKind;
    const pending = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM approval_requests WHERE status = 'pending'`)).rows[0].n;
    const s: Sample = {
      t: round(elapsed(), 1),
      rssMb: round(rssOf(pid), 1),
      heapUsedMb: round(metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20, 1),
      heapTotalMb: round(metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20, 1),
      externalMb: round(metric(text, 'nodejs_external_memory_bytes') / 2 ** 20, 1),
      handles: metric(text, 'nodejs_active_handles_total'),
      resources: metric(text, 'nodejs_active_resources_total'),
      lagP99Ms: round(metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000, 1),
      redisKeys: r.keys,
      redisKb: round(r.bytes / 1024, 1),
      pending,
      publishes,
    };
    samples.push(s);
    log(
      `rss ${s.rssMb} MB, heap ${s.heapUsedMb}/${s.heapTotalMb} MB, handles ${s.handles}, resources ${s.resources}, lag p99 ${s.lagP99Ms} ms, ` +
        `redis ${s.redisKeys} keys ${s.redisKb} KB, pending ${s.pending}, parks ${parks}, publishes ${publishes}`,
    );
  };

  const kinds = ['approve_redeem', 'approve_redeem', 'deny', 'expire', 'ping_approve', 'ping_expire'] as const;
  const flow = async (n: number) => {
    const kind = kinds[n % kinds.length];
    const ping = kind.startsWith('ping');
    const expiresIn = kind.endsWith('expire') ? 5 + (n % 11) : 600;
    const parked = await call('park', 'POST', `${publicUrl}/v1/approvals`, gateway, {
      tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 100 + (n % 1000), currency: 'EUR', n } },
      agent: { id: 'spiffe://acme.example/agents/payment-agent', class: 'payment-agent' },
      delegator: { id: 'alice' },
      reason: `soak ${n}`,
      obligation: { approvers: ['user:bob', 'user:carol'], quorum: 1, expires_in: expiresIn, binding_message: `soak ${n}` },
      ...(ping ? { delivery: { mode: 'ping', notification_endpoint: sinkUrl, notification_token: `soak-${n}` } } : {}),
    });
    parks++;
    const id: string | undefined = parked.body?.auth_req_id;
    await call(
      'authorize',
      'POST',
      `${publicUrl}/v1/authorize`,
      gateway,
      {
        agent: { token: agent },
        action: { server: 'calendar', tool: 'list_events', arguments: { day: n % 7 } },
        correlation: { mcp_session_id: `soak-${n % 50}` },
      },
      [200, 202, 403],
    );
    if (!id) return;
    if (ping) owedCallbacks++;
    await call('status read', 'GET', `${publicUrl}/v1/approvals/${id}`, gateway);
    if (kind === 'expire' || kind === 'ping_expire') return;
    const approve = kind !== 'deny';
    const link = await mintLink(id, approve ? 'bob' : 'carol');
    const waiting = approve ? call('long-poll', 'GET', `${publicUrl}/v1/approvals/${id}?wait=20`, gateway) : undefined;
    await sleep(20);
    await call('vote', 'POST', `${publicUrl}/v1/approvals/${id}/decisions`, link, { decision: approve ? 'approve' : 'deny', reason: 'soak' });
    await waiting;
    await call('status read', 'GET', `${publicUrl}/v1/approvals/${id}`, gateway);
    if (kind === 'approve_redeem') await call('redeem', 'POST', `${publicUrl}/v1/approvals/${id}/token`, gateway);
  };

  const publishLoop = async () => {
    while (!stopping) {
      const next = Date.now() + PUBLISH_INTERVAL_MS;
      const n = publishes + 1;
      const published = await call(
        'policy publish+activate',
        'POST',
        `${publicUrl}/v1/policies`,
        policyAdmin,
        { policies: thirtyNine(n), activate: true },
        [201],
      );
      // The activated version is compiled by the next decision.
      const decided = await call(
        'authorize (policy tenant)',
        'POST',
        `${publicUrl}/v1/authorize`,
        policyGateway,
        {
          agent: { token: policyAgent },
          action: { server: 'calendar', tool: 'list_events', arguments: {} },
          correlation: { mcp_session_id: 'soak-policy' },
        },
        [200, 202, 403],
      );
      if (published.status === 201 && decided.body?.policy?.version === published.body?.version) publishes++;
      else publishFailures++;
      await sleep(Math.max(0, next - Date.now()));
    }
  };

  try {
    const admin = await sign({ tenant: TENANT, scope: 'countersign:admin countersign:delegations' }, DEV_GATEWAY_ISSUER, 'soak-idp');
    await call('setup', 'PUT', `${publicUrl}/v1/approvers/bob`, admin, { display_name: 'Bob' }, [200, 201]);
    // Alice lets the soak agent use the calendar: its decisions are allows, not "no delegation".
    await call(
      'setup',
      'POST',
      `${publicUrl}/v1/delegations`,
      admin,
      { human: 'alice', agent: 'spiffe://acme.example/agents/soak', tools: ['calendar/*'] },
      [201],
    );
    log(`service pid ${pid}, ${SECONDS} s at ${PARKS_PER_SECOND} parks/s, a publish every ${PUBLISH_INTERVAL_MS} ms, samples every ${SAMPLE_SECONDS} s`);
    await sample();
    const flows = new Set<Promise<void>>();
    const publisher = publishLoop();
    const sampler = (async () => {
      while (!stopping) {
        await sleep(SAMPLE_SECONDS * 1000);
        if (!stopping && !serverDied) await sample().catch((e) => log(`sample failed: ${(e as Error).message}`));
      }
    })();
    // Open loop: a new flow every 1/rate seconds, however long the earlier ones take.
    // Paced from here, not from the process's start: the set-up's seconds would otherwise be caught up in a burst.
    const loadStarted = Date.now();
    for (let n = 0; Date.now() - loadStarted < SECONDS * 1000 && !serverDied; n++) {
      const f = flow(n).catch((e) => void unexpected.push(`flow: ${(e as Error).message}`));
      flows.add(f);
      void f.finally(() => flows.delete(f));
      await sleep(Math.max(0, loadStarted + ((n + 1) * 1000) / PARKS_PER_SECOND - Date.now()));
    }
    stopping = true;
    await Promise.all([...flows, publisher, sampler]);
    if (!serverDied) await sample();
    // Callbacks still owed (ping expiries land up to 15 s after the last park).
    for (let i = 0; i < 60 && callbackKeys.size < owedCallbacks; i++) await sleep(500);

    const summary = summarise(samples, { parks, publishes, publishFailures, owedCallbacks });
    const pgBytes = (
      await db.query<{ bytes: string; n: number }>(
        `SELECT pg_total_relation_size('approval_requests')::text AS bytes, (SELECT count(*)::int FROM approval_requests) AS n`,
      )
    ).rows[0];
    const result = {
      date: new Date().toISOString(),
      seconds: SECONDS,
      parksPerSecond: PARKS_PER_SECOND,
      publishIntervalMs: PUBLISH_INTERVAL_MS,
      serverDied: serverDied ?? null,
      requests: Object.fromEntries(
        [...tallies].map(([kind, t]) => {
          const all = t.ms.flat();
          const first = t.ms.slice(0, 2).flat();
          const last = t.ms.slice(-2).flat();
          return [
            kind,
            {
              count: t.count,
              statuses: t.statuses,
              p50Ms: round(percentile(all, 50), 1),
              p99Ms: round(percentile(all, 99), 1),
              p99FirstTwoMinutesMs: round(percentile(first, 99), 1),
              p99LastTwoMinutesMs: round(percentile(last, 99), 1),
            },
          ];
        }),
      ),
      unexpected,
      callbacks: { owed: owedCallbacks, distinctKeys: callbackKeys.size, received: callbacksReceived },
      redisAtEndByKind: redisByKind,
      postgresBytesPerApproval: Math.round(Number(pgBytes.bytes) / Math.max(1, pgBytes.n)),
      approvals: pgBytes.n,
      ...summary,
      samples,
    };
    writeFileSync(join(ROOT, 'bench/soak-results.json'), JSON.stringify(result, null, 2) + '\n');
    const { samples: _, ...printed } = result;
    process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
    if (serverDied || unexpected.length) process.exitCode = 1;
  } finally {
    stopping = true;
    await db.end();
    redis.disconnect();
    await stop(server);
    await dispatcher.close();
    callbacks.close();
    rmSync(keysDir, { recursive: true, force: true });
    if (!process.env.SOAK_KEEP_DB) await dropDatabase(DB_NAME);
  }
}

/** Start, middle and end of each memory figure, its slope after warm-up, and whether it grew. */
function summarise(samples: Sample[], counts: { parks: number; publishes: number; publishFailures: number; owedCallbacks: number }) {
  const warm = samples.filter((s) => s.t >= WARM_UP_SECONDS);
  const at = (frac: number) => samples[Math.min(samples.length - 1, Math.round(frac * (samples.length - 1)))];
  const figure = (pick: (s: Sample) => number, unit: string) => {
    const slope = slopePerMinute(warm.map((s) => ({ t: s.t, y: pick(s) })));
    // The second half alone: a heap that fills until its first major GCs (a minute or two) tilts the line above.
    const secondHalf = slopePerMinute(samples.filter((s) => s.t >= samples[samples.length - 1].t / 2).map((s) => ({ t: s.t, y: pick(s) })));
    const base = warm.length ? pick(warm[0]) : pick(samples[0]);
    const minutes = warm.length > 1 ? (warm[warm.length - 1].t - warm[0].t) / 60 : 0;
    return {
      start: pick(samples[0]),
      afterWarmUp: base,
      middle: pick(at(0.5)),
      end: pick(samples[samples.length - 1]),
      max: Math.max(...samples.map(pick)),
      slopePerMinute: round(slope, 3),
      slopePerMinuteSecondHalf: round(secondHalf, 3),
      unit,
      // Grew: a fitted line (after warm-up, or over the second half) rises by more than 10 % of the post-warm-up value over the run.
      grew: minutes > 0 && Math.max(slope, secondHalf) * minutes > 0.1 * Math.max(base, 1),
    };
  };
  const first = warm[0] ?? samples[0];
  const last = samples[samples.length - 1];
  return {
    memory: {
      rssMb: figure((s) => s.rssMb, 'MB'),
      heapUsedMb: figure((s) => s.heapUsedMb, 'MB'),
      externalMb: figure((s) => s.externalMb, 'MB'),
      handles: figure((s) => s.handles, 'handles'),
      resources: figure((s) => s.resources, 'resources'),
      redisKb: figure((s) => s.redisKb, 'KB'),
      redisKeys: figure((s) => s.redisKeys, 'keys'),
      pending: figure((s) => s.pending, 'requests'),
    },
    eventLoopLagP99Ms: {
      median: percentile(
        samples.map((s) => s.lagP99Ms),
        50,
      ),
      max: Math.max(...samples.map((s) => s.lagP99Ms)),
    },
    parks: counts.parks,
    publishLoop: {
      publishes: counts.publishes,
      failures: counts.publishFailures,
      // Everything the process gained after warm-up, charged to the publishes: an upper bound.
      rssKbPerPublishAfterWarmUp: last.publishes > first.publishes ? round(((last.rssMb - first.rssMb) * 1024) / (last.publishes - first.publishes), 2) : null,
    },
  };
}

main()
  .finally(() => forgetRedisKeys())
  .catch((e) => {
    process.stderr.write(`soak failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
