import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { auditTypes, CallbackServer, eventually, requestRow, sleep, status } from '../support/callback-server';

const ROOT = join(__dirname, '..', '..');

/** The API with RUN_WORKERS=false only enqueues; the separate worker process (npm run start:worker) does the work. */
describe('the separate worker process', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let worker: ChildProcess | undefined;
  let workerOutput = '';
  let gateway: string;

  beforeAll(async () => {
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT });
    env = await testEnvironment();
    api = await env.start({ RUN_WORKERS: 'false' });
    gateway = await tenantToken();
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    }
    await env.teardown();
  });

  function startWorker(): ChildProcess {
    const c = api.config;
    const vars: Record<string, string | undefined> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      LOG_FORMAT: c.LOG_FORMAT,
      PUBLIC_URL: c.PUBLIC_URL,
      DATABASE_URL: c.DATABASE_URL,
      DATABASE_POOL_SIZE: '5',
      DATABASE_MIGRATE_ON_START: 'false',
      REDIS_URL: c.REDIS_URL,
      REDIS_PREFIX: c.REDIS_PREFIX,
      SIGNING_KEYS_FILE: c.SIGNING_KEYS_FILE,
      GATEWAY_JWKS_FILE: c.GATEWAY_JWKS_FILE,
      GATEWAY_ISSUER: c.GATEWAY_ISSUER,
      GATEWAY_AUDIENCE: c.GATEWAY_AUDIENCE,
      APPROVAL_POLL_INTERVAL: String(c.APPROVAL_POLL_INTERVAL),
      CALLBACK_ALLOWED_HOSTS: c.CALLBACK_ALLOWED_HOSTS.join(','),
      CALLBACK_ALLOW_HTTP: String(c.CALLBACK_ALLOW_HTTP),
      CALLBACK_BACKOFF_MS: String(c.CALLBACK_BACKOFF_MS),
      CALLBACK_TIMEOUT_MS: String(c.CALLBACK_TIMEOUT_MS),
      // The worker must run its processors even if the API's setting leaks in.
      RUN_WORKERS: 'false',
    };
    const child = spawn(process.execPath, ['dist/src/worker.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (workerOutput += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (workerOutput += d.toString()));
    return child;
  }

  it('a request expires only once the worker process runs; until then the row stays pending though reads show expired', async () => {
    const body = parkBody();
    body.obligation = { ...body.obligation, expires_in: 2 };
    const id = await parkApproval(api, gateway, body);

    await sleep(3000);
    expect(await requestRow(env.db.url, id)).toMatchObject({ status: 'pending', decided_at: null });
    const read = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
    expect(read.body.status).toBe('expired');
    // Parking wrote its own events (the initial notification round is part of it); nothing has expired it.
    expect((await auditTypes(env.db.url, id)).map((e) => e.type)).toEqual(['approval.created', 'approval.notified']);

    worker = startWorker();
    await eventually(async () => {
      if (worker!.exitCode !== null) throw new Error(`worker exited with ${worker!.exitCode}: ${workerOutput}`);
      return workerOutput.includes('Countersign worker running');
    }, 15_000);

    const row = await eventually(async () => {
      if (worker!.exitCode !== null) throw new Error(`worker exited with ${worker!.exitCode}: ${workerOutput}`);
      const r = await requestRow(env.db.url, id);
      return r.status === 'expired' && r;
    }, 10_000);
    expect(row.decided_at).not.toBeNull();
    const expired = (await auditTypes(env.db.url, id)).filter((e) => e.type === 'approval.expired');
    expect(expired).toHaveLength(1);
    expect(expired[0].actor).toBe('system');
  }, 40_000);

  it('the worker process delivers push callbacks, with an approval token signed by the service keys', async () => {
    expect(worker?.exitCode).toBeNull();
    const server = await CallbackServer.start();
    try {
      const p = '/worker/push';
      const body = parkBody({ delivery: { mode: 'push', notification_endpoint: server.on(p, status(200)), notification_token: 'worker-push' } });
      const id = await parkApproval(api, gateway, body);
      const vote = await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
      expect(vote.body).toMatchObject({ status: 'approved' });

      const [push] = await eventually(async () => server.requestsTo(p).length > 0 && server.requestsTo(p));
      expect(push.headers.authorization).toBe('Bearer worker-push');
      expect(push.body).toMatchObject({ auth_req_id: id, status: 'approved' });
      const jwks = createRemoteJWKSet(new URL(`${api.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(push.body.approval_token, jwks, { issuer: api.config.PUBLIC_URL, audience: 'gateway-1' });
      expect(payload.auth_req_id).toBe(id);
      expect(await eventually(async () => (await requestRow(env.db.url, id)).callback_state === 'delivered')).toBe(true);
    } finally {
      await server.close();
    }
  }, 20_000);

  /** Parks a push-mode request, approves it, and waits until the worker's callback reaches `server`. */
  async function approvedPushInFlight(server: CallbackServer, path: string, respond: Parameters<CallbackServer['on']>[1]) {
    const body = parkBody({ delivery: { mode: 'push', notification_endpoint: server.on(path, respond), notification_token: 'worker-push' } });
    const parked = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
    const id: string = parked.body.auth_req_id;
    expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' })).body.status).toBe('approved');
    await eventually(async () => server.requestsTo(path).length > 0, 10_000);
    return id;
  }

  it('SIGTERM while a job is in flight: the worker finishes it, then exits', async () => {
    expect(worker?.exitCode).toBeNull();
    const server = await CallbackServer.start();
    try {
      const path = '/worker/slow';
      let answeredAt = 0;
      const id = await approvedPushInFlight(server, path, (res) =>
        setTimeout(() => {
          answeredAt = Date.now();
          res.writeHead(200).end('{}');
        }, 1200),
      );
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        worker!.once('exit', (code, signal) => resolve({ code, signal })),
      );
      worker!.kill('SIGTERM');
      const { code, signal } = await exited;
      const exitedAt = Date.now();
      // Nest re-raises the signal once it has closed everything: a clean end, not the shutdown bound's exit(1).
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
      expect(workerOutput).not.toContain('SHUTDOWN_TIMEOUT_MS');
      expect(answeredAt).toBeGreaterThan(0);
      expect(exitedAt).toBeGreaterThanOrEqual(answeredAt);
      expect((await requestRow(env.db.url, id)).callback_state).toBe('delivered');
      expect(server.requestsTo(path)).toHaveLength(1);
    } finally {
      await server.close();
    }
  }, 30_000);

  it('a worker killed mid-job (SIGKILL): after a restart the job is redone and nothing is lost', async () => {
    worker = startWorker();
    await eventually(async () => workerOutput.includes('Countersign worker running'), 15_000);
    const server = await CallbackServer.start();
    try {
      const path = '/worker/killed';
      // The first attempt never gets an answer before the process dies; the redo is answered.
      const id = await approvedPushInFlight(server, path, (res, n) => (n === 1 ? undefined : res.writeHead(200).end('{}')));
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker!.kill('SIGKILL');
      await exited;
      worker = startWorker();
      // BullMQ hands the dead worker's job to the new one once its lock has expired (30 s) and the new
      // worker's stalled-job check has run (every 30 s): up to a minute and more on a loaded machine.
      await eventually(async () => (await requestRow(env.db.url, id)).callback_state === 'delivered', 120_000, 250);
      expect(server.requestsTo(path).length).toBeGreaterThanOrEqual(2);
      expect(server.requestsTo(path).every((r) => r.body.auth_req_id === id)).toBe(true);
    } finally {
      await server.close();
    }
  }, 180_000);
});
