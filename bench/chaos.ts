/**
 * npm run chaos: faults under load, counted (issue 14). Not part of `npm test` (it takes minutes).
 *
 * Starts its own PostgreSQL cluster (initdb into a temp dir, a free port, trust auth) and its own
 * Redis, so it never touches shared instances; migrates; runs two API instances and one worker
 * (`node dist/src/main.js` / `dist/src/worker.js`, demo mode, one KEYS_DIR) and a local callback
 * sink that records every Idempotency-Key. A bounded mixed load (parks, some expiring in seconds,
 * some with ping callbacks; votes through approver links; redemptions, each tried twice at once on
 * both instances) runs while faults are injected in sequence: kill -9 of the worker, kill -9 of an
 * API instance (both restarted), Redis FLUSHALL, a Postgres restart (503s vs other errors counted
 * while it is down), and the callback sink down for a while. Then it waits for the system to
 * settle and compares what the clients were told with what Postgres and the sink hold.
 *
 * Prints a table, writes bench/chaos-results.json, exits 1 if any row shows a loss or a token was
 * redeemed twice. Env: CHAOS_SECONDS (load, default 120), CHAOS_SETTLE_SECONDS (default 150),
 * CHAOS_CONCURRENCY (default 6), CHAOS_KEEP=1 keeps the temp dir (logs, cluster).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, JWK, SignJWT } from 'jose';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Agent, request } from 'undici';
import { DEV_GATEWAY_ISSUER, ensureDevKeys } from '../src/common/keys/key-files';
import { APPROVER_LINK_AUDIENCE, APPROVER_LINK_TYP } from '../src/common/auth/approver-link.verifier';

const ROOT = join(__dirname, '..', '..');
const LOAD_SECONDS = Number(process.env.CHAOS_SECONDS ?? 120);
const SETTLE_SECONDS = Number(process.env.CHAOS_SETTLE_SECONDS ?? 150);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 6);
const TENANT = 'acme';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg: string) => process.stdout.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// --- Postgres and Redis of our own ----------------------------------------------------------------

function pgBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('no /usr/lib/postgresql/*/bin');
  return `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
}
/** initdb and postgres refuse root: run them as the postgres user then. */
function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

class OwnPostgres {
  readonly dataDir: string;
  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = join(dir, 'pgdata');
  }
  start(): void {
    if (process.getuid?.() === 0) {
      const pg = execFileSync('id', ['-u', 'postgres']).toString().trim();
      const pgGid = execFileSync('id', ['-g', 'postgres']).toString().trim();
      chownSync(this.dir, Number(pg), Number(pgGid));
    }
    asPostgres(pgBin('initdb'), ['-D', this.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
  }
  restart(): void {
    asPostgres(pgBin('pg_ctl'), ['-D', this.dataDir, '-l', join(this.dir, 'postgres.log'), '-w', '-m', 'fast', 'restart']);
  }
  stop(): void {
    try {
      asPostgres(pgBin('pg_ctl'), ['-D', this.dataDir, '-w', '-m', 'immediate', 'stop']);
    } catch {
      /* already down */
    }
  }
  url(db: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }
}

// --- child processes ------------------------------------------------------------------------------

interface Proc {
  name: string;
  script: string;
  env: Record<string, string>;
  child?: ChildProcess;
}
const procs: Proc[] = [];
let logDir = '';

function launch(p: Proc): void {
  const out = openSync(join(logDir, `${p.name}.log`), 'a');
  p.child = spawn(process.execPath, [join(ROOT, p.script)], { env: { ...process.env, ...p.env }, stdio: ['ignore', out, out] });
}
function kill9(p: Proc): void {
  if (p.child?.pid) process.kill(p.child.pid, 'SIGKILL');
}
async function waitHealthy(url: string, timeoutMs = 240_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const res = await request(`${url}/health/ready`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      /* not yet */
    }
    await sleep(250);
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

// --- the callback sink ----------------------------------------------------------------------------

interface Receipt {
  key: string;
  authReqId: string;
  at: number;
}
const receipts: Receipt[] = [];
let sink: Server | undefined;
function sinkUp(port: number): Promise<void> {
  sink = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      let authReqId = '';
      try {
        authReqId = String((JSON.parse(body) as { auth_req_id?: string }).auth_req_id ?? '');
      } catch {
        /* recorded with no id */
      }
      receipts.push({ key: String(req.headers['idempotency-key'] ?? ''), authReqId, at: Date.now() });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => sink!.listen(port, '127.0.0.1', () => resolve()));
}
function sinkDown(): Promise<void> {
  return new Promise((resolve) => {
    if (!sink) return resolve();
    sink.close(() => resolve());
    sink.closeAllConnections();
    sink = undefined;
  });
}

// --- HTTP with outcome counting ---------------------------------------------------------------------

type Outcome = '2xx' | '4xx' | '503' | '5xx_other' | 'network';
type Window = 'normal' | 'pg_down' | 'api_killed' | 'worker_killed' | 'redis_flushed' | 'sink_down';
let currentWindow: Window = 'normal';
const outcomes: Record<string, Record<Outcome, number>> = {};
const otherErrorSamples: string[] = [];
function count(win: Window, o: Outcome): void {
  outcomes[win] ??= { '2xx': 0, '4xx': 0, '503': 0, '5xx_other': 0, network: 0 };
  outcomes[win][o]++;
}

const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
async function http(method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const win = currentWindow;
  try {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    let parsed: any = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    const s = res.statusCode;
    const o: Outcome = s < 300 ? '2xx' : s < 500 ? '4xx' : s === 503 ? '503' : '5xx_other';
    count(win, o);
    if (o === '5xx_other' && otherErrorSamples.length < 20) otherErrorSamples.push(`${win} ${method} ${new URL(url).pathname} ${s} ${text.slice(0, 160)}`);
    return { status: s, body: parsed };
  } catch (e) {
    count(win, 'network');
    return { status: 0, body: { error: (e as Error).message } };
  }
}

// --- the load -------------------------------------------------------------------------------------

type Kind = 'approve_redeem' | 'deny' | 'expire' | 'ping_approve' | 'ping_expire';
interface Parked {
  id: string;
  kind: Kind;
  ping: boolean;
  expiresAt: number;
}
const parked: Parked[] = [];
const votesAccepted: { id: string; approver: string }[] = [];
let parkAttempts = 0;
let voteAttempts = 0;
let redemptionsTried = 0;
let redeemedOnce = 0;
let redeemedTwice = 0;
let approvedNeverRedeemed = 0;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-chaos-'));
  logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const keysDir = join(dir, 'keys');
  const [pgPort, redisPort, api0Port, api1Port, sinkPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  log(`temp dir ${dir} (logs in ${logDir})`);

  const pg = new OwnPostgres(dir, pgPort);
  let redis: ChildProcess | undefined;
  const cleanup = () => {
    for (const p of procs) if (p.child?.pid && p.child.exitCode === null) p.child.kill('SIGKILL');
    redis?.kill('SIGKILL');
    pg.stop();
    if (!process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  try {
    pg.start();
    log(`postgres on :${pgPort}`);
    const admin = new Client({ connectionString: pg.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE countersign');
    await admin.end();

    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: ['ignore', openSync(join(logDir, 'redis.log'), 'a'), 'inherit'],
    });
    const redisCli = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 3, lazyConnect: false });
    redisCli.on('error', () => undefined); // until redis-server listens
    for (let i = 0; i < 40 && (await redisCli.ping().catch(() => '')) !== 'PONG'; i++) await sleep(100);
    log(`redis on :${redisPort}`);

    const paths = await ensureDevKeys(keysDir);
    const publicUrl = `http://127.0.0.1:${api0Port}`;
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      DEMO_MODE: 'true',
      KEYS_DIR: keysDir,
      DATABASE_URL: pg.url('countersign'),
      DATABASE_MIGRATE_ON_START: 'false',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      REDIS_PREFIX: 'chaos',
      HOST: '127.0.0.1',
      PUBLIC_URL: publicUrl,
      LOG_LEVEL: 'warn',
      CALLBACK_ALLOWED_HOSTS: '127.0.0.1',
      CALLBACK_ALLOW_HTTP: 'true',
      CALLBACK_BACKOFF_MS: '1000',
      CALLBACK_TIMEOUT_MS: '3000',
      SMTP_URL: '',
    };
    execFileSync(process.execPath, [join(ROOT, 'dist/src/cli/migrate.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    log('migrated');

    const api0: Proc = { name: 'api0', script: 'dist/src/main.js', env: { ...env, PORT: String(api0Port), RUN_WORKERS: 'false' } };
    const api1: Proc = { name: 'api1', script: 'dist/src/main.js', env: { ...env, PORT: String(api1Port), RUN_WORKERS: 'false' } };
    const worker: Proc = { name: 'worker', script: 'dist/src/worker.js', env: { ...env, PORT: '0' } };
    procs.push(api0, api1, worker);
    // The first instance seeds the demo directory alone; then the others.
    launch(api0);
    await waitHealthy(publicUrl);
    launch(api1);
    launch(worker);
    await waitHealthy(`http://127.0.0.1:${api1Port}`);
    await sleep(3000);
    await sinkUp(sinkPort);
    log(`api0 :${api0Port}, api1 :${api1Port}, worker, sink :${sinkPort} up`);

    const gwJwk = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
    const gwKey = await importJWK(gwJwk, gwJwk.alg);
    const gatewayToken = await new SignJWT({ tenant: TENANT })
      .setProtectedHeader({ alg: gwJwk.alg!, kid: gwJwk.kid, typ: 'JWT' })
      .setIssuer(DEV_GATEWAY_ISSUER)
      .setAudience('countersign')
      .setSubject('chaos-gateway')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(gwKey);
    const signingJwk = (JSON.parse(readFileSync(paths.signingKeysFile, 'utf8')) as { keys: JWK[] }).keys[0];
    const signingKey = await importJWK(signingJwk, signingJwk.alg);
    /** An approver link, minted like ApproverLinks.mint (src/cli/mint-approver-link.ts) does. */
    const approverLink = (p: Parked, approver: string) =>
      new SignJWT({ tenant: TENANT, auth_req_id: p.id })
        .setProtectedHeader({ alg: signingJwk.alg!, kid: signingJwk.kid, typ: APPROVER_LINK_TYP })
        .setIssuer(publicUrl)
        .setAudience(APPROVER_LINK_AUDIENCE)
        .setSubject(approver)
        .setIssuedAt()
        .setExpirationTime(Math.ceil(p.expiresAt / 1000) + 5)
        .setJti(randomUUID())
        .sign(signingKey);

    const apis = [publicUrl, `http://127.0.0.1:${api1Port}`];
    let rr = 0;
    const api = () => apis[rr++ % apis.length];

    const park = async (kind: Kind): Promise<Parked | undefined> => {
      const ping = kind === 'ping_approve' || kind === 'ping_expire';
      const expiresIn = kind === 'expire' || kind === 'ping_expire' ? 3 + Math.floor(Math.random() * 8) : 900;
      parkAttempts++;
      const n = parkAttempts;
      const res = await http('POST', `${api()}/v1/approvals`, gatewayToken, {
        tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 100 + n, currency: 'EUR', n } },
        agent: { id: 'spiffe://acme.example/agents/payment-agent', class: 'payment-agent' },
        delegator: { id: 'alice' },
        reason: `chaos park ${n}`,
        obligation: { approvers: ['user:bob', 'user:carol'], quorum: 1, expires_in: expiresIn, binding_message: `chaos ${n}` },
        ...(ping ? { delivery: { mode: 'ping', notification_endpoint: `http://127.0.0.1:${sinkPort}/cb`, notification_token: `chaos-${n}` } } : {}),
      });
      if (res.status !== 200 || typeof res.body?.auth_req_id !== 'string') return undefined;
      const p: Parked = { id: res.body.auth_req_id, kind, ping, expiresAt: Date.now() + Number(res.body.expires_in ?? expiresIn) * 1000 };
      parked.push(p);
      return p;
    };

    /** A vote, retried while the service is unavailable; accepted only on a 2xx. */
    const vote = async (p: Parked, approver: string, decision: 'approve' | 'deny'): Promise<boolean> => {
      const token = await approverLink(p, approver);
      for (let attempt = 0; attempt < 5; attempt++) {
        voteAttempts++;
        const res = await http('POST', `${api()}/v1/approvals/${p.id}/decisions`, token, { decision, reason: 'chaos vote' });
        if (res.status >= 200 && res.status < 300) {
          votesAccepted.push({ id: p.id, approver });
          return true;
        }
        if (res.status !== 0 && res.status < 500) return false; // refused for a reason: not retried
        await sleep(1000);
      }
      return false;
    };

    /** Two redemptions at once, one on each instance; retried while neither got an answer. */
    const redeem = async (p: Parked): Promise<void> => {
      redemptionsTried++;
      for (let attempt = 0; attempt < 6; attempt++) {
        const [a, b] = await Promise.all(apis.map((u) => http('POST', `${u}/v1/approvals/${p.id}/token`, gatewayToken)));
        const ok = [a, b].filter((r) => r.status === 200 && r.body?.approval_token).length;
        if (ok === 2) {
          redeemedTwice++;
          return;
        }
        if (ok === 1) {
          redeemedOnce++;
          return;
        }
        const retryable = [a, b].some((r) => r.status === 0 || r.status >= 500 || r.body?.error === 'slow_down' || r.body?.error === 'authorization_pending');
        if (!retryable) break;
        await sleep(r_slow(a, b));
      }
      approvedNeverRedeemed++;
    };
    const r_slow = (a: { body: any }, b: { body: any }) => (a.body?.error === 'slow_down' || b.body?.error === 'slow_down' ? 6000 : 1000);

    const kinds: Kind[] = ['approve_redeem', 'approve_redeem', 'deny', 'expire', 'expire', 'ping_approve', 'ping_approve', 'ping_expire'];
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const kind = kinds[Math.floor(Math.random() * kinds.length)];
        const p = await park(kind);
        if (!p) {
          await sleep(200);
          continue;
        }
        if (kind === 'approve_redeem') {
          if (await vote(p, 'bob', 'approve')) await redeem(p);
        } else if (kind === 'deny') {
          await vote(p, 'carol', 'deny');
        } else if (kind === 'ping_approve') {
          await vote(p, Math.random() < 0.5 ? 'bob' : 'carol', 'approve');
        }
      }
    };

    // --- faults, in sequence -----------------------------------------------------------------------
    const faults: { name: string; at: number; run: () => Promise<void> }[] = [];
    const results: Record<string, unknown> = {};
    const faultErrors: string[] = [];
    const at = (frac: number) => frac * LOAD_SECONDS * 1000;
    faults.push({
      name: 'kill -9 worker',
      at: at(0.1),
      run: async () => {
        currentWindow = 'worker_killed';
        kill9(worker);
        await sleep(3000);
        launch(worker);
        await sleep(5000);
        currentWindow = 'normal';
      },
    });
    faults.push({
      name: 'kill -9 api1',
      at: at(0.25),
      run: async () => {
        currentWindow = 'api_killed';
        kill9(api1);
        await sleep(3000);
        launch(api1);
        await waitHealthy(apis[1]);
        currentWindow = 'normal';
      },
    });
    faults.push({
      name: 'Redis FLUSHALL',
      at: at(0.4),
      run: async () => {
        currentWindow = 'redis_flushed';
        await redisCli.flushall();
        await sleep(8000);
        currentWindow = 'normal';
      },
    });
    faults.push({
      name: 'pg_ctl restart',
      at: at(0.55),
      run: async () => {
        currentWindow = 'pg_down';
        const started = Date.now();
        await new Promise<void>((resolve, reject) => {
          // async, so the load keeps running while Postgres is down
          const child = spawn(
            process.getuid?.() === 0 ? 'runuser' : pgBin('pg_ctl'),
            [
              ...(process.getuid?.() === 0 ? ['-u', 'postgres', '--', pgBin('pg_ctl')] : []),
              '-D',
              pg.dataDir,
              '-l',
              join(dir, 'postgres.log'),
              '-w',
              '-m',
              'fast',
              'restart',
            ],
            { stdio: 'ignore' },
          );
          child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}`))));
        });
        results.pg_restart_ms = Date.now() - started;
        await sleep(2000); // the instances reconnect
        currentWindow = 'normal';
      },
    });
    faults.push({
      name: 'callback sink down 20 s',
      at: at(0.7),
      run: async () => {
        currentWindow = 'sink_down';
        await sinkDown();
        await sleep(20_000);
        await sinkUp(sinkPort);
        currentWindow = 'normal';
      },
    });

    log(`load: ${CONCURRENCY} loops for ${LOAD_SECONDS} s`);
    const loadStart = Date.now();
    const loops = Array.from({ length: CONCURRENCY }, () => loop());
    for (const f of faults) {
      const wait = loadStart + f.at - Date.now();
      if (wait > 0) await sleep(wait);
      log(`fault: ${f.name}`);
      try {
        await f.run();
        log(`fault over: ${f.name}`);
      } catch (e) {
        faultErrors.push(`${f.name}: ${(e as Error).message}`);
        log(`fault FAILED: ${f.name}: ${(e as Error).message}`);
        currentWindow = 'normal';
      }
    }
    const rest = loadStart + LOAD_SECONDS * 1000 - Date.now();
    if (rest > 0) await sleep(rest);
    stop = true;
    await Promise.all(loops);
    log(`load over: ${parked.length} parks accepted of ${parkAttempts}, ${votesAccepted.length} votes accepted`);

    // --- settle --------------------------------------------------------------------------------------
    const db = new Client({ connectionString: pg.url('countersign') });
    await db.connect();
    const ids = parked.map((p) => p.id);
    const measure = async () => {
      const rows = (
        await db.query<{ id: string; status: string }>(`SELECT id, status FROM approval_requests WHERE tenant_id = $1 AND id = ANY($2)`, [TENANT, ids])
      ).rows;
      const status = new Map(rows.map((r) => [r.id, r.status]));
      const voteRows = (
        await db.query<{ approval_id: string; approver_id: string }>(
          `SELECT approval_id, approver_id FROM approval_votes WHERE tenant_id = $1 AND approval_id = ANY($2)`,
          [TENANT, ids],
        )
      ).rows;
      const voteSet = new Set(voteRows.map((v) => `${v.approval_id}/${v.approver_id}`));
      const voted = new Set(votesAccepted.map((v) => v.id));
      const expiryOwed = parked.filter((p) => (p.kind === 'expire' || p.kind === 'ping_expire') && !voted.has(p.id) && p.expiresAt < Date.now());
      const settled = (s: string | undefined) => s === 'approved' || s === 'denied' || s === 'expired';
      const callbackOwed = parked.filter((p) => p.ping && settled(status.get(p.id)));
      const keysById = new Map<string, Set<string>>();
      const perKey = new Map<string, number>();
      for (const r of receipts) {
        if (!keysById.has(r.authReqId)) keysById.set(r.authReqId, new Set());
        keysById.get(r.authReqId)!.add(r.key);
        perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
      }
      const delivered = callbackOwed.filter((p) => keysById.has(p.id)).length;
      return {
        approvals: { accepted: parked.length, found: rows.length },
        votes: { accepted: votesAccepted.length, recorded: votesAccepted.filter((v) => voteSet.has(`${v.id}/${v.approver}`)).length },
        expiries: { owed: expiryOwed.length, done: expiryOwed.filter((p) => status.get(p.id) === 'expired').length },
        callbacks: {
          owed: callbackOwed.length,
          delivered,
          distinct_keys: perKey.size,
          resent_same_key: [...perKey.values()].reduce((a, n) => a + n - 1, 0),
          requests_with_two_keys: [...keysById.values()].filter((s) => s.size > 1).length,
        },
        still_pending_short: parked.filter((p) => (p.kind === 'expire' || p.kind === 'ping_expire') && status.get(p.id) === 'pending').length,
      };
    };
    const lastExpiry = Math.max(0, ...parked.filter((p) => p.kind === 'expire' || p.kind === 'ping_expire').map((p) => p.expiresAt));
    if (lastExpiry > Date.now()) await sleep(lastExpiry - Date.now() + 1000);
    const settleEnd = Date.now() + SETTLE_SECONDS * 1000;
    let m = await measure();
    const done = (x: typeof m) => x.expiries.done === x.expiries.owed && x.callbacks.delivered === x.callbacks.owed;
    while (!done(m) && Date.now() < settleEnd) {
      log(`settling: expiries ${m.expiries.done}/${m.expiries.owed}, callbacks ${m.callbacks.delivered}/${m.callbacks.owed}`);
      await sleep(5000);
      m = await measure();
    }
    const settledAfterS = Math.round((Date.now() - loadStart) / 1000 - LOAD_SECONDS);
    await db.end();
    redisCli.disconnect();

    const rows: [string, number, number, string][] = [
      ['approvals: accepted (2xx) → found in Postgres', m.approvals.accepted, m.approvals.found, m.approvals.found === m.approvals.accepted ? 'ok' : 'LOSS'],
      ['votes: accepted (2xx) → recorded', m.votes.accepted, m.votes.recorded, m.votes.recorded === m.votes.accepted ? 'ok' : 'LOSS'],
      ['expiries: owed → done', m.expiries.owed, m.expiries.done, m.expiries.done === m.expiries.owed ? 'ok' : 'LOSS'],
      [
        'callbacks: owed → delivered (distinct Idempotency-Key)',
        m.callbacks.owed,
        m.callbacks.delivered,
        m.callbacks.delivered === m.callbacks.owed ? 'ok' : 'LOSS',
      ],
      ['callbacks: resent with the same key (dedupable)', m.callbacks.distinct_keys, m.callbacks.resent_same_key, 'info'],
      [
        'callbacks: requests announced under two keys',
        m.callbacks.owed,
        m.callbacks.requests_with_two_keys,
        m.callbacks.requests_with_two_keys === 0 ? 'ok' : 'DUPLICATE',
      ],
      ['tokens: redemptions tried → redeemed twice', redemptionsTried, redeemedTwice, redeemedTwice === 0 ? 'ok' : 'DOUBLE'],
    ];
    const failed = rows.some((r) => r[3] !== 'ok' && r[3] !== 'info') || faultErrors.length > 0;
    const w = Math.max(...rows.map((r) => r[0].length));
    const table = [
      `${'row'.padEnd(w)} | ${'owed'.padStart(6)} | ${'found'.padStart(6)} | verdict`,
      `${'-'.repeat(w)}-|-${'-'.repeat(6)}-|-${'-'.repeat(6)}-|--------`,
      ...rows.map((r) => `${r[0].padEnd(w)} | ${String(r[1]).padStart(6)} | ${String(r[2]).padStart(6)} | ${r[3]}`),
    ].join('\n');
    process.stdout.write(`\n${table}\n\n`);
    process.stdout.write(`responses by fault window (requests started in it):\n`);
    for (const [win, o] of Object.entries(outcomes)) process.stdout.write(`  ${win.padEnd(14)} ${JSON.stringify(o)}\n`);
    if (faultErrors.length) process.stdout.write(`faults that failed to run: ${faultErrors.join('; ')}\n`);
    if (otherErrorSamples.length) process.stdout.write(`5xx other than 503 (samples):\n  ${otherErrorSamples.join('\n  ')}\n`);
    process.stdout.write(
      `redeemed once ${redeemedOnce}, approved but never redeemed ${approvedNeverRedeemed}; park attempts ${parkAttempts}, vote attempts ${voteAttempts}; ` +
        `settled ${settledAfterS} s after the load; Postgres restart took ${String(results.pg_restart_ms)} ms\n`,
    );
    writeFileSync(
      join(ROOT, 'bench/chaos-results.json'),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          load_seconds: LOAD_SECONDS,
          concurrency: CONCURRENCY,
          faults: faults.map((f) => ({ name: f.name, at_s: Math.round(f.at / 1000) })),
          ...m,
          tokens: {
            redemptions_tried: redemptionsTried,
            redeemed_once: redeemedOnce,
            redeemed_twice: redeemedTwice,
            approved_never_redeemed: approvedNeverRedeemed,
          },
          responses_by_window: outcomes,
          other_5xx_samples: otherErrorSamples,
          pg_restart_ms: results.pg_restart_ms,
          settled_after_load_s: settledAfterS,
          fault_errors: faultErrors,
          verdict: failed ? 'FAIL' : 'PASS',
        },
        null,
        2,
      ) + '\n',
    );
    log(failed ? 'FAIL: a row shows a loss, a duplicate or a double redemption' : 'PASS: nothing lost, nothing redeemed twice');
    process.exitCode = failed ? 1 : 0;
  } finally {
    await sinkDown();
    await agent.close().catch(() => undefined);
    cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`chaos: ${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
