/**
 * npm run bench:scale: does a full database slow the approval path down? (issue 14, "Soak and
 * scale"). One server, one database: the same probes run on an empty tenant and again after
 * 100,000 pending approval requests (BENCH_SCALE_ROWS) were added beside it and the instance was
 * restarted (its start-up rebuilds their jobs: the expiry jobs of those due within the reconciler's
 * horizon, src/approvals/approval-jobs.service.ts), and each figure is
 * the ratio of the two (target ≤ 1.5×). Probes, one request at a time so latency is the server's:
 * a status read (GET /v1/approvals/:id), a vote (POST …/decisions), and a long-poll resumed by
 * that vote (GET …?wait=30 answered when the vote lands). Also: Postgres bytes per approval, Redis
 * bytes per pending approval (what parking leaves there), and the plans of the queries those paths run
 * (EXPLAIN ANALYZE, written to bench/SCALE-EXPLAIN.md). Figures are merged into
 * bench/results.json and bench/RESULTS.md under their own names.
 *
 * Both probes run under the same conditions: on an instance just restarted (whose start-up rebuild
 * of the pending requests' jobs has finished and which has gone quiet), after a warm-up of
 * unmeasured reads and votes (JIT, pools, caches), so that the ratio is the database's and not the
 * process's age. The empty database is probed again after the full one (A-B-A), so that a shift
 * in the shared machine's load between probes shows as such. Beside each latency the service's own CPU per status read (/proc) is reported:
 * on a shared machine a steadier measure than wall time. BENCH_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=DIR" profiles the service; DIR/windows.json then says when each probe ran
 * (node dist/bench/cpu-profile.js DIR). BENCH_SCALE_KEEP_DB=1 keeps the database afterwards.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { JWK } from 'jose';
import { Client } from 'pg';
import { expiryHorizonSeconds } from '../src/approvals/approval-jobs.service';
import { DEV_GATEWAY_ISSUER, ensureDevKeys } from '../src/common/keys/key-files';
import { LoadWindow } from './cpu-profile';
import {
  benchRedisPrefix,
  closeHttp,
  cpuSeconds,
  deleteKeys,
  devSigner,
  dropDatabase,
  forgetRedisKeys,
  Figure,
  figuresOnFile,
  http,
  linkMinter,
  mergeInto,
  parkBody,
  percentile,
  resetDatabase,
  ROOT,
  round,
  startServer,
  stop,
  writeFigures,
} from './support';

const ROWS = Number(process.env.BENCH_SCALE_ROWS ?? 100_000);
const PROBES = Number(process.env.BENCH_SCALE_PROBES ?? 200);
const TENANT = 'bench';

interface Probe {
  status: number[];
  vote: number[];
  resume: number[];
  /** The service's CPU per status read, ms. */
  statusCpuMs: number;
}

const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const keysDir = mkdtempSync(join(tmpdir(), 'countersign-scale-'));
  const keys = await ensureDevKeys(keysDir);
  const databaseUrl = await resetDatabase('countersign_scale');
  const redisPrefix = benchRedisPrefix('scale');
  const env = {
    DEMO_MODE: 'true',
    KEYS_DIR: keysDir,
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: redisPrefix,
    PUBLIC_URL: 'http://127.0.0.1:3911',
    RECONCILE_INTERVAL_SECONDS: '60',
  };
  const horizonSeconds = expiryHorizonSeconds({ RECONCILE_INTERVAL_SECONDS: Number(env.RECONCILE_INTERVAL_SECONDS) });
  let server = await startServer(env, 3911);
  const sign = devSigner(JSON.parse(readFileSync(keys.gatewayPrivateKeyFile, 'utf8')) as JWK);
  const gateway = await sign({ tenant: TENANT }, DEV_GATEWAY_ISSUER, 'bench-gateway');
  const admin = await sign({ tenant: TENANT, scope: 'countersign:admin' }, DEV_GATEWAY_ISSUER, 'bench-idp');
  const mintLink = await linkMinter(keys.signingKeysFile, env.PUBLIC_URL, TENANT);
  await http('PUT', `${server.url}/v1/approvers/bob`, admin, { display_name: 'Bob' });
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const figures: Figure[] = [];

  /** Parks `n` requests through the API; their ids. */
  const park = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => http('POST', `${server.url}/v1/approvals`, gateway, parkBody())));
      for (const res of batch) {
        if (res.status !== 200) throw new Error(`park: ${res.status} ${JSON.stringify(res.body)}`);
        ids.push(res.body.auth_req_id);
      }
    }
    return ids;
  };

  /** Restarts the instance and waits until its start-up rebuild has put back in Redis the expiry job of every pending request due within the horizon. */
  const restart = async () => {
    await stop(server);
    const restartedAt = Date.now();
    server = await startServer(env, 3911);
    const listening = (Date.now() - restartedAt) / 1000;
    const expected = Number(
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM approval_requests WHERE status = 'pending' AND expires_at < now() + make_interval(secs => $1)`,
          [horizonSeconds],
        )
      ).rows[0].n,
    );
    while (Number(await redis.zcard(`${redisPrefix}-bull:approval-expiry:delayed`)) < expected) await sleep(250);
    return { listening, rebuilt: (Date.now() - restartedAt) / 1000 };
  };

  /** Until the instance's own CPU over a second is below 5 % (at most 60 s): its start-up work is done. */
  const quiet = async () => {
    const t0 = Date.now();
    for (let last = cpuSeconds(server.proc.pid!); Date.now() - t0 < 60_000;) {
      await sleep(1000);
      const now = cpuSeconds(server.proc.pid!);
      if (now - last < 0.05) break;
      last = now;
    }
    return (Date.now() - t0) / 1000;
  };

  const windows: (LoadWindow & { pid: number })[] = [];
  const probe = async (key: string): Promise<Probe> => {
    const ids = await park(PROBES);
    // Warm-up, unmeasured: the same reads and a few votes, so a fresh process's JIT and pools are not what is measured.
    for (let i = 0; i < 2 * PROBES; i++) await http('GET', `${server.url}/v1/approvals/${ids[i % ids.length]}`, gateway);
    for (const id of await park(20))
      await http('POST', `${server.url}/v1/approvals/${id}/decisions`, await mintLink(id, 'bob'), { decision: 'approve', reason: 'warm-up' });
    const status: number[] = [];
    const cpuBefore = cpuSeconds(server.proc.pid!);
    const start = monotonicMicros();
    for (let i = 0; i < 5 * PROBES; i++) {
      const t0 = performance.now();
      const res = await http('GET', `${server.url}/v1/approvals/${ids[i % ids.length]}`, gateway);
      status.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`status: ${res.status}`);
    }
    windows.push({ key: `status read, ${key}`, start, end: monotonicMicros(), responses: status.length, pid: server.proc.pid! });
    const statusCpuMs = ((cpuSeconds(server.proc.pid!) - cpuBefore) * 1000) / status.length;
    const vote: number[] = [];
    const resume: number[] = [];
    for (const id of ids) {
      const link = await mintLink(id, 'bob');
      const waiting = http('GET', `${server.url}/v1/approvals/${id}?wait=30`, gateway).then((res) => ({ res, at: performance.now() }));
      await new Promise((r) => setTimeout(r, 15)); // the long-poll is parked before the vote is cast
      const t0 = performance.now();
      const voted = await http('POST', `${server.url}/v1/approvals/${id}/decisions`, link, { decision: 'approve', reason: 'scale probe' });
      vote.push(performance.now() - t0);
      if (voted.status !== 200) throw new Error(`vote: ${voted.status} ${JSON.stringify(voted.body)}`);
      const { res, at } = await waiting;
      if (res.body.status !== 'approved') throw new Error(`long-poll answered ${res.body.status}`);
      resume.push(at - t0);
    }
    return { status, vote, resume, statusCpuMs };
  };

  try {
    // Redis bytes per pending approval: what parking leaves in Redis (no expiry job for one due after the horizon).
    const redisBefore = await redisBytes(redis, redisPrefix);
    const parked = await park(2000);
    const redisPerApproval = ((await redisBytes(redis, redisPrefix)) - redisBefore) / parked.length;

    // The empty database's probe on a restarted instance too, as the full one's is.
    await restart();
    const emptyQuiet = await quiet();
    const empty = await probe('empty database');

    // 100,000 pending requests beside the probes': copies of a parked one under new ids, as many
    // tenants' gateways would have left them, then vacuumed and analysed as autovacuum leaves a
    // table after a bulk insert (else its pass may run during the probe), and checkpointed.
    const t0 = Date.now();
    await fill(db, ROWS);
    await db.query('VACUUM ANALYZE approval_requests');
    // The bulk insert's dirty pages written now, not by the checkpointer during the probe.
    await db.query('CHECKPOINT');
    const fillSeconds = (Date.now() - t0) / 1000;
    const { rows } = await db.query<{ pending: number; bytes: string }>(
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, pg_total_relation_size('approval_requests')::text AS bytes FROM approval_requests`,
    );
    // A restart with them in place: start-up rebuilds the jobs from Postgres (as after a Redis loss):
    // the expiry jobs of those due within the horizon, as Redis holds them for live requests.
    const { listening: listeningSeconds, rebuilt: rebuiltSeconds } = await restart();
    const fullQuiet = await quiet();
    const full = await probe(`${ROWS} pending`);
    const plans = await explainPlans(db, parked[0]);

    // And the empty database once more, after the full one (A-B-A): on a shared machine the load
    // of the minutes between two probes differs, and a difference that the second empty probe
    // shows too is the machine's, not the database's. The fill's rows and Redis keys go; the
    // restart rebuilds the remaining requests' jobs from Postgres.
    await db.query(`DELETE FROM notification_rounds WHERE approval_id LIKE 'scale-%'`);
    await db.query(`DELETE FROM approval_requests WHERE id LIKE 'scale-%'`);
    await db.query('VACUUM ANALYZE approval_requests');
    await db.query('CHECKPOINT');
    await stop(server);
    await deleteKeys(redis, redisPrefix);
    await restart();
    const againQuiet = await quiet();
    const again = await probe('empty database again');

    const pair = (what: string, a: number[], b: number[], p: number) => {
      const baseline = round(percentile(a, p), 2);
      const value = round(percentile(b, p), 2);
      figures.push({
        name: `scale: ${what} p${p} with ${ROWS.toLocaleString('en')} pending approvals`,
        value,
        unit: 'ms',
        baseline: { name: `${what} p${p}, empty database`, value: baseline, unit: 'ms' },
        ratio: round(value / baseline, 2),
        note: p === 99 ? `target ratio ≤ 1.5; ${a.length} probes each, one at a time` : undefined,
      });
    };
    for (const p of [50, 99]) {
      pair('status read (GET /v1/approvals/:id)', empty.status, full.status, p);
      pair('vote (POST /v1/approvals/:id/decisions)', empty.vote, full.vote, p);
      pair('long-poll resumed by a vote', empty.resume, full.resume, p);
    }
    const pairAgain = (what: string, a: number[], b: number[], p: number) => {
      const baseline = round(percentile(a, p), 2);
      const value = round(percentile(b, p), 2);
      figures.push({
        name: `scale: ${what} p${p} with ${ROWS.toLocaleString('en')} pending approvals, against the empty database probed after it`,
        value,
        unit: 'ms',
        baseline: { name: `${what} p${p}, empty database again (A-B-A)`, value: baseline, unit: 'ms' },
        ratio: round(value / baseline, 2),
      });
    };
    for (const p of [50, 99]) {
      pairAgain('status read (GET /v1/approvals/:id)', again.status, full.status, p);
      pairAgain('vote (POST /v1/approvals/:id/decisions)', again.vote, full.vote, p);
      pairAgain('long-poll resumed by a vote', again.resume, full.resume, p);
    }
    figures.push({
      name: `scale: service CPU per status read with ${ROWS.toLocaleString('en')} pending approvals`,
      value: round(full.statusCpuMs, 3),
      unit: 'ms',
      baseline: { name: 'service CPU per status read, empty database', value: round(empty.statusCpuMs, 3), unit: 'ms' },
      ratio: round(full.statusCpuMs / empty.statusCpuMs, 2),
      note: `the service's own user+system time (/proc) over the ${5 * PROBES} reads; empty again: ${round(again.statusCpuMs, 3)} ms; quiet after restart in ${round(emptyQuiet, 0)} / ${round(fullQuiet, 0)} / ${round(againQuiet, 0)} s`,
    });
    figures.push({
      name: 'scale: Postgres bytes per approval request (table, indexes, TOAST)',
      value: Math.round(Number(rows[0].bytes) / (ROWS + parked.length + 2 * (PROBES + 20))),
      unit: 'bytes',
      note: `${rows[0].pending.toLocaleString('en')} pending rows; filled in ${round(fillSeconds, 1)} s`,
    });
    figures.push({
      name: `scale: restart with ${ROWS.toLocaleString('en')} pending approvals, until the instance listens`,
      value: round(listeningSeconds, 1),
      unit: 's',
      note: 'the rebuild of every job from Postgres runs in the background',
    });
    figures.push({
      name: `scale: restart with ${ROWS.toLocaleString('en')} pending approvals, until the expiry jobs due within the horizon are back in Redis`,
      value: round(rebuiltSeconds, 1),
      unit: 's',
      note: `expiry jobs exist only for requests due within ${horizonSeconds} s (the fill's are due in 1 to 2 hours); the scheduled passes add the rest as they come due`,
    });
    figures.push({
      name: 'scale: Redis bytes per pending approval (what parking leaves there)',
      value: Math.round(redisPerApproval),
      unit: 'bytes',
      note: `its keys' MEMORY USAGE over 2,000 parks due in 600 s: no expiry job until a request is due within ${horizonSeconds} s (1,164 bytes with one)`,
    });

    writeFileSync(join(ROOT, 'bench/SCALE-EXPLAIN.md'), explainHeader(figures) + plans);
  } finally {
    await db.end();
    redis.disconnect();
    await stop(server);
    await closeHttp();
    rmSync(keysDir, { recursive: true, force: true });
    if (!process.env.BENCH_SCALE_KEEP_DB) await dropDatabase('countersign_scale');
  }
  const profileDir = /--cpu-prof-dir[= ](\S+)/.exec(process.env.BENCH_NODE_ARGS ?? '')?.[1];
  if (profileDir) writeFileSync(join(profileDir, 'windows.json'), JSON.stringify({ pid: server.proc.pid, windows }, null, 2));
  writeFigures(
    mergeInto(figuresOnFile(), figures, (f) => f.name.startsWith('scale: ')),
    'npm run bench:scale: only the scale figures are new',
  );
}

/** Adds `rows` pending requests: copies of the newest parked one, spread over 50 other tenants. */
async function fill(db: Client, rows: number): Promise<void> {
  const columns = (
    await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'approval_requests' ORDER BY ordinal_position`,
    )
  ).rows.map((r) => r.column_name);
  const overridden: Record<string, string> = {
    id: `'scale-' || g`,
    tenant_id: `'tenant-' || (g % 50)`,
    created_at: `now() - make_interval(secs => g)`,
    expires_at: `now() + interval '1 hour' + make_interval(secs => g % 3600)`,
  };
  const select = columns.map((c) => overridden[c] ?? `r.${c}`).join(', ');
  for (let from = 1; from <= rows; from += 10_000) {
    await db.query(
      `INSERT INTO approval_requests (${columns.join(', ')})
       SELECT ${select} FROM (SELECT * FROM approval_requests WHERE status = 'pending' ORDER BY created_at DESC LIMIT 1) r,
            generate_series($1::int, $2::int) g`,
      [from, Math.min(rows, from + 9_999)],
    );
    // Their initial notification rounds were queued, like the copied request's (the notifications part's own table).
    await db.query(
      `INSERT INTO notification_rounds (approval_id, round, tenant_id) SELECT 'scale-' || g, 'initial', 'tenant-' || (g % 50) FROM generate_series($1::int, $2::int) g`,
      [from, Math.min(rows, from + 9_999)],
    );
  }
}

/** used_memory is the server's; keys under our prefix are what parking added. */
async function redisBytes(redis: Redis, prefix: string): Promise<number> {
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) bytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  } while (cursor !== '0');
  return bytes;
}

/** The plans of what the status read, the vote and the reconciler run, with 100k rows in place. */
/** The run's ratios, above the plans in bench/SCALE-EXPLAIN.md. */
function explainHeader(figures: Figure[]): string {
  return [
    `# Query plans with ${ROWS.toLocaleString('en')} pending approvals (npm run bench:scale)`,
    '',
    `This run (${new Date().toISOString()}): each probe on a freshly restarted, warmed-up instance, in the order empty database, full, empty again; ratios are full ÷ empty:`,
    '',
    '| figure | empty database | full | ratio |',
    '|---|---:|---:|---:|',
    ...figures
      .filter((f) => f.baseline)
      .map((f) => `| ${f.baseline!.name.replace(/, empty database$/, '')} | ${f.baseline!.value} ${f.unit} | ${f.value} ${f.unit} | ${f.ratio} |`),
    '',
    "How to read it: when the two empty probes differ from each other as much as the full one differs from them, the difference is the shared machine's load, not the database; the service's CPU per read and the plans below depend much less on that load.",
    '',
    'Earlier runs and what they showed: README.md, section Configuration, paragraph Scale.',
    '',
    'The plans below are taken with the rows in place (EXPLAIN ANALYZE, BUFFERS).',
    '',
    '',
  ].join('\n');
}

async function explainPlans(db: Client, id: string): Promise<string> {
  const queries: [string, string, unknown[]][] = [
    [
      'status read: the request, as TypeORM asks for it (findOne by id and tenant)',
      `SELECT * FROM approval_requests WHERE id = $1 AND tenant_id = $2 LIMIT 1`,
      [id, TENANT],
    ],
    ["status read: the request's votes, in the order cast", `SELECT * FROM approval_votes WHERE approval_id = $1 ORDER BY id ASC`, [id]],
    [
      'status read and vote: the request by id and tenant (FOR UPDATE in the vote)',
      `SELECT * FROM approval_requests WHERE id = $1 AND tenant_id = $2 FOR UPDATE`,
      [id, TENANT],
    ],
    ["the vote: the request's votes", `SELECT * FROM approval_votes WHERE approval_id = $1`, [id]],
    [
      'the reconciler: a page of pending requests',
      `SELECT id, tenant_id, expires_at FROM approval_requests r WHERE r.status = 'pending' AND r.id > $1 ORDER BY r.id LIMIT 1000`,
      [''],
    ],
    [
      'notification routing: a page of open pending requests',
      `SELECT id FROM approval_requests r WHERE r.status = 'pending' AND r.expires_at > now() AND r.id > $1 ORDER BY r.id LIMIT 1000`,
      [''],
    ],
    [
      "a delegation's revocation: its pending requests",
      `SELECT id FROM approval_requests r WHERE r.tenant_id = $1 AND r.status = 'pending' AND r.delegation->>'delegation_id' = ANY($2)`,
      [TENANT, ['dlg-1']],
    ],
  ];
  const out: string[] = [];
  for (const [what, sql, params] of queries) {
    await db.query('BEGIN');
    const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
    await db.query('ROLLBACK');
    out.push(`## ${what}`, '', '```sql', sql, '```', '', '```', ...plan.rows.map((r) => r['QUERY PLAN']), '```', '');
  }
  return out.join('\n');
}

main()
  .finally(() => forgetRedisKeys())
  .catch((e) => {
    process.stderr.write(`bench:scale failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
