import { Queue } from 'bullmq';
import { ApprovalQueue, callbackJobId, expiryJobId, RECONCILE_SCHEDULER_ID } from '../../src/approvals/approval-queues';
import { expiryHorizonSeconds } from '../../src/approvals/approval-jobs.service';
import { ApprovalsReconciler } from '../../src/approvals/approvals-reconciler.service';
import { APP_CONFIG, AppConfig } from '../../src/config/app-config';
import { getQueueToken } from '@nestjs/bullmq';
import { redisConnectionOptions } from '../../src/common/queues/queues.module';
import { RedisConnections } from '../../src/common/redis/redis.module';
import { Redis } from 'ioredis';
import { parkBody, tenantToken } from '../support/api';
import { REDIS_URL, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { attemptRows, auditTypes, CallbackServer, eventually, outboxDrained, requestRow, sql, status } from '../support/callback-server';

/** Nothing is lost: Postgres is the truth, and a new instance rebuilds Redis's schedule from it. */
describe('recovery after a restart and after Redis lost its data', () => {
  let server: CallbackServer;
  let gateway: string;
  const envs: TestEnvironment[] = [];

  beforeAll(async () => {
    server = await CallbackServer.start();
    gateway = await tenantToken();
  });
  afterAll(async () => {
    for (const e of envs) await e.teardown();
    await server.close();
  });

  /** Each scenario gets its own database and Redis prefix, so queue counts are its own. */
  async function freshEnv(): Promise<TestEnvironment> {
    const env = await testEnvironment();
    envs.push(env);
    return env;
  }

  async function park(app: TestApp, overrides: { expiresIn?: number; endpoint?: string } = {}): Promise<string> {
    const body = parkBody();
    if (overrides.expiresIn) body.obligation = { ...body.obligation, expires_in: overrides.expiresIn };
    if (overrides.endpoint) body.delivery = { mode: 'ping', notification_endpoint: overrides.endpoint, notification_token: 'recovery-token' };
    return parkApproval(app, gateway, body);
  }

  async function approve(app: TestApp, id: string): Promise<void> {
    const res = await voteAs(app, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
    expect(res.body).toMatchObject({ status: 'approved' });
  }

  function queue(env: TestEnvironment, name: ApprovalQueue): Queue {
    return new Queue(name, { connection: redisConnectionOptions(REDIS_URL), prefix: `${env.redisPrefix}-bull` });
  }

  async function jobTotal(q: Queue): Promise<number> {
    const counts = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  it('pending requests parked before Redis was flushed still expire on time on a new instance', async () => {
    const env = await freshEnv();
    const first = await env.start();
    const ids = [await park(first, { expiresIn: 3 }), await park(first, { expiresIn: 3 }), await park(first, { expiresIn: 3 })];
    await outboxDrained(env.db.url);
    await first.close();
    expect(await env.flushRedis()).toBeGreaterThan(0);

    await env.start();
    for (const id of ids) {
      const row = await eventually(async () => {
        const r = await requestRow(env.db.url, id);
        return r.status !== 'pending' && r;
      }, 8000);
      expect(row.status).toBe('expired');
      // On time: not before the deadline, and not long after it.
      const lateness = row.decided_at!.getTime() - row.expires_at.getTime();
      expect(lateness).toBeGreaterThanOrEqual(0);
      expect(lateness).toBeLessThan(1500);
      const expired = (await auditTypes(env.db.url, id)).filter((e) => e.type === 'approval.expired');
      expect(expired).toHaveLength(1);
      expect(expired[0].actor).toBe('system');
    }
  });

  it('a callback whose retry was lost with Redis is delivered by a new instance', async () => {
    const env = await freshEnv();
    let answer = 503;
    const p = '/recovery/retry-lost';
    const endpoint = server.on(p, (res) => {
      res.writeHead(answer);
      res.end();
    });
    // The retry after the first 503 is a minute away: only the reconciler can bring it back sooner.
    const first = await env.start({ CALLBACK_BACKOFF_MS: '60000' });
    const id = await park(first, { endpoint });
    await approve(first, id);
    await eventually(async () => (await attemptRows(env.db.url, id)).length === 1);
    expect(await attemptRows(env.db.url, id)).toEqual([expect.objectContaining({ outcome: 'retrying', status_code: 503 })]);
    await first.close();
    await env.flushRedis();

    answer = 200;
    await env.start({ CALLBACK_BACKOFF_MS: '60000' });
    const row = await eventually(async () => {
      const r = await requestRow(env.db.url, id);
      return r.callback_state === 'delivered' && r;
    });
    expect(row.status).toBe('approved');
    expect(server.requestsTo(p).map((r) => r.body)).toEqual([{ auth_req_id: id }, { auth_req_id: id }]);
    expect((await attemptRows(env.db.url, id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'retrying'],
      [2, 'delivered'],
    ]);
    expect((await auditTypes(env.db.url, id)).filter((e) => e.type === 'approval.callback_delivered')).toHaveLength(1);
  });

  it('reconciling twice adds no duplicate jobs, and the job ids are expire-<id> and callback-<id>', async () => {
    const env = await freshEnv();
    const p = '/recovery/idempotent';
    const endpoint = server.on(p, status(503));
    const first = await env.start({ CALLBACK_BACKOFF_MS: '60000' });
    // Due within the expiry horizon (125 s): their jobs are rebuilt; one due later gets its job from a later scheduled pass.
    const pending = [await park(first, { expiresIn: 60 }), await park(first, { expiresIn: 60 })];
    const later = await park(first, { expiresIn: 600 });
    const decided = await park(first, { endpoint, expiresIn: 600 });
    await approve(first, decided);
    await eventually(async () => (await attemptRows(env.db.url, decided)).length === 1);
    await first.close();
    await env.flushRedis();

    // Starting reconciles once; two more runs must change nothing.
    const second = await env.start({ CALLBACK_BACKOFF_MS: '60000' });
    const expiry = queue(env, ApprovalQueue.Expiry);
    const callbacks = queue(env, ApprovalQueue.Callbacks);
    try {
      await eventually(async () => server.requestsTo(p).length === 2);
      await eventually(async () => (await (await callbacks.getJob(callbackJobId(decided)))?.getState()) === 'delayed');
      const before = { expiry: await jobTotal(expiry), callbacks: await jobTotal(callbacks) };
      expect(before).toEqual({ expiry: 2, callbacks: 1 });

      const reconciler = second.app.get(ApprovalsReconciler);
      expect(await reconciler.reconcile()).toMatchObject({ expiries: 2, callbacks: 1 });
      expect(await reconciler.reconcile()).toMatchObject({ expiries: 2, callbacks: 1 });
      expect({ expiry: await jobTotal(expiry), callbacks: await jobTotal(callbacks) }).toEqual(before);

      for (const id of pending) {
        const job = await expiry.getJob(expiryJobId(id));
        expect(job?.id).toBe(`expire-${id}`);
        expect(await job!.getState()).toBe('delayed');
      }
      expect(await expiry.getJob(expiryJobId(decided))).toBeUndefined();
      expect(await expiry.getJob(expiryJobId(later))).toBeUndefined();
      const cb = await callbacks.getJob(callbackJobId(decided));
      expect(cb?.id).toBe(`callback-${decided}`);
      // Re-adding did not restart the job: it is still waiting on its one-minute retry.
      expect(await cb!.getState()).toBe('delayed');
      expect(server.requestsTo(p)).toHaveLength(2);
    } finally {
      await expiry.close();
      await callbacks.close();
    }
  });

  it('the scheduled pass re-adds jobs only for work due soon or overdue (new requests get theirs through the outbox); the full one for all', async () => {
    const env = await freshEnv();
    const app = await env.start();
    const [recent, old, overdue] = [await park(app, { expiresIn: 600 }), await park(app, { expiresIn: 600 }), await park(app, { expiresIn: 600 })];
    // Parked an hour ago (expiring later), and two hours ago (expired two minutes ago): their jobs were lost one by one.
    await sql(env.db.url, `UPDATE approval_requests SET created_at = now() - interval '1 hour' WHERE id = $1`, [old]);
    await sql(env.db.url, `UPDATE approval_requests SET created_at = now() - interval '2 hours', expires_at = now() - interval '2 minutes' WHERE id = $1`, [
      overdue,
    ]);
    const expiry = queue(env, ApprovalQueue.Expiry);
    try {
      await outboxDrained(env.db.url);
      for (const id of [recent, old, overdue]) await expiry.remove(expiryJobId(id));
      const hasJob = async (id: string) => (await expiry.getJob(expiryJobId(id))) !== undefined;

      const reconciler = app.app.get(ApprovalsReconciler);
      expect(reconciler.scheduledScope()).toEqual({ dueWithinSeconds: 125, graceSeconds: 60 });
      expect(await reconciler.reconcile(reconciler.scheduledScope())).toMatchObject({ expiries: 1 });
      expect({ recent: await hasJob(recent), old: await hasJob(old), overdue: await hasJob(overdue) }).toEqual({ recent: false, old: false, overdue: true });

      // Reminders: the old request's round is owed once its reminder is overdue, not before.
      await sql(env.db.url, `UPDATE approval_requests SET remind_after = 7200 WHERE id = $1`, [old]);
      await sql(env.db.url, `DELETE FROM notification_rounds WHERE approval_id = $1 AND round = 'reminder'`, [old]);
      expect(await reconciler.reconcile(reconciler.scheduledScope())).toMatchObject({ notifications: 0 });
      await sql(env.db.url, `UPDATE approval_requests SET remind_after = 600 WHERE id = $1`, [old]);
      expect(await reconciler.reconcile(reconciler.scheduledScope())).toMatchObject({ notifications: 1 });

      // The overdue request's re-added job ran: it is expired now.
      await eventually(async () => (await requestRow(env.db.url, overdue)).status === 'expired');
      // Start-up and a Redis that lost its data rebuild every pending request's expiry job due within the horizon, as the scheduled pass does.
      expect(await reconciler.reconcile()).toMatchObject({ expiries: 0 });
      await sql(env.db.url, `UPDATE approval_requests SET expires_at = now() + interval '100 seconds' WHERE id = $1`, [old]);
      expect(await reconciler.reconcile()).toMatchObject({ expiries: 1 });
      expect({ recent: await hasJob(recent), old: await hasJob(old) }).toEqual({ recent: false, old: true });
    } finally {
      await expiry.close();
    }
  });

  it('a decided request whose callback is pending but has no job is delivered after a restart', async () => {
    const env = await freshEnv();
    const p = '/recovery/orphaned';
    const endpoint = server.on(p, status(200));
    const first = await env.start();
    const id = await park(first, { endpoint });
    await first.close();
    await env.flushRedis();
    // The process died between committing the decision and queueing the callback.
    await sql(env.db.url, `UPDATE approval_requests SET status = 'approved', decided_at = now(), callback_state = 'pending' WHERE id = $1`, [id]);
    const queued = queue(env, ApprovalQueue.Callbacks);
    try {
      expect(await queued.getJob(callbackJobId(id))).toBeUndefined();
    } finally {
      await queued.close();
    }

    await env.start();
    const row = await eventually(async () => {
      const r = await requestRow(env.db.url, id);
      return r.callback_state === 'delivered' && r;
    });
    expect(row.status).toBe('approved');
    expect(server.requestsTo(p).map((r) => r.body)).toEqual([{ auth_req_id: id }]);
    expect(server.requestsTo(p)[0].headers.authorization).toBe('Bearer recovery-token');
    expect(await attemptRows(env.db.url, id)).toEqual([expect.objectContaining({ attempt: 1, outcome: 'delivered', status_code: 200 })]);
  });

  it('a callback job that failed for good while the row still says pending is run again at the next start', async () => {
    const env = await freshEnv();
    const p = '/recovery/failed-job';
    const endpoint = server.on(p, status(200));
    const first = await env.start({ CALLBACK_MAX_ATTEMPTS: '2', CALLBACK_BACKOFF_MS: '50' });
    const id = await park(first, { endpoint, expiresIn: 600 });
    // The database refuses the attempt's record: every attempt throws, and BullMQ gives up on the job.
    await sql(env.db.url, `ALTER TABLE callback_attempts RENAME TO callback_attempts_away`);
    const callbacks = queue(env, ApprovalQueue.Callbacks);
    try {
      await approve(first, id);
      await eventually(async () => (await (await callbacks.getJob(callbackJobId(id)))?.getState()) === 'failed');
      expect(await requestRow(env.db.url, id)).toMatchObject({ status: 'approved', callback_state: 'pending' });
      await sql(env.db.url, `ALTER TABLE callback_attempts_away RENAME TO callback_attempts`);
      await first.close();

      // No Redis flush: the failed job is still there under the same id.
      await env.start({ CALLBACK_MAX_ATTEMPTS: '2', CALLBACK_BACKOFF_MS: '50' });
      const row = await eventually(async () => {
        const r = await requestRow(env.db.url, id);
        return r.callback_state === 'delivered' && r;
      });
      expect(row.status).toBe('approved');
      expect(await attemptRows(env.db.url, id)).toEqual([expect.objectContaining({ attempt: 1, outcome: 'delivered' })]);
    } finally {
      await callbacks.close();
    }
  });

  async function expectExpiredOnTime(env: TestEnvironment, id: string): Promise<void> {
    const row = await eventually(async () => {
      const r = await requestRow(env.db.url, id);
      return r.status !== 'pending' && r;
    }, 8000);
    expect(row.status).toBe('expired');
    expect(row.decided_at!.getTime() - row.expires_at.getTime()).toBeGreaterThanOrEqual(0);
    expect(row.decided_at!.getTime() - row.expires_at.getTime()).toBeLessThan(2000);
  }

  it('a request parked further from its expiry than the horizon gets its expiry job from the scheduled pass, not the park; settling it then removes nothing', async () => {
    const env = await freshEnv();
    const app = await env.start();
    const reconciler = app.app.get(ApprovalsReconciler);
    // RECONCILE_INTERVAL_SECONDS 60: every pass looks 125 s ahead, so each request is inside that for two passes before it expires.
    expect(expiryHorizonSeconds(app.app.get<AppConfig>(APP_CONFIG))).toBe(125);
    const [near, far, settledNear, settledFar] = [
      await park(app, { expiresIn: 120 }),
      await park(app, { expiresIn: 600 }),
      await park(app, { expiresIn: 120 }),
      await park(app, { expiresIn: 600 }),
    ];
    const expiry = queue(env, ApprovalQueue.Expiry);
    const removed = jest.spyOn(app.app.get<Queue>(getQueueToken(ApprovalQueue.Expiry)), 'remove');
    try {
      await outboxDrained(env.db.url);
      const hasJob = async (id: string) => (await expiry.getJob(expiryJobId(id))) !== undefined;
      expect({ near: await hasJob(near), far: await hasJob(far), settledNear: await hasJob(settledNear), settledFar: await hasJob(settledFar) }).toEqual({
        near: true,
        far: false,
        settledNear: true,
        settledFar: false,
      });

      // Settled inside the horizon: its job goes; outside it: there is none to remove, and no call is made.
      await approve(app, settledFar);
      await approve(app, settledNear);
      await eventually(async () => !(await hasJob(settledNear)));
      expect(removed.mock.calls.map(([jobId]) => jobId)).toEqual([expiryJobId(settledNear)]);

      // Time passes (the far request is three seconds from expiring now): the scheduled pass adds its job, and it expires on time.
      await sql(env.db.url, `UPDATE approval_requests SET expires_at = now() + interval '3 seconds' WHERE id = $1`, [far]);
      expect(await reconciler.reconcile(reconciler.scheduledScope())).toMatchObject({ expiries: 2 });
      expect(await hasJob(far)).toBe(true);
      await expectExpiredOnTime(env, far);
    } finally {
      removed.mockRestore();
      await expiry.close();
    }
  });

  it('with the scheduled pass off, every park adds its expiry job, however far out', async () => {
    const env = await freshEnv();
    const app = await env.start({ RECONCILE_INTERVAL_SECONDS: '0' });
    const id = await park(app, { expiresIn: 3600 });
    const expiry = queue(env, ApprovalQueue.Expiry);
    try {
      await outboxDrained(env.db.url);
      expect(await (await expiry.getJob(expiryJobId(id)))?.getState()).toBe('delayed');
    } finally {
      await expiry.close();
    }
  });

  it('an expiry job lost while the service runs is re-created by the periodic reconciler', async () => {
    const env = await freshEnv();
    const app = await env.start({ RECONCILE_INTERVAL_SECONDS: '1' });
    const id = await park(app, { expiresIn: 3 });
    const expiry = queue(env, ApprovalQueue.Expiry);
    try {
      await outboxDrained(env.db.url);
      expect(await expiry.remove(expiryJobId(id))).toBe(1);
      expect(await expiry.getJob(expiryJobId(id))).toBeUndefined();
    } finally {
      await expiry.close();
    }
    await expectExpiredOnTime(env, id);
  });

  it('when Redis comes back empty after a disconnect, the service rebuilds its jobs without a restart', async () => {
    const env = await freshEnv();
    // No periodic reconcile and no timely check for lost data: only the reconnect can bring the job back.
    const app = await env.start({ RECONCILE_INTERVAL_SECONDS: '0', REDIS_LOSS_CHECK_INTERVAL_MS: '600000' });
    const id = await park(app, { expiresIn: 3 });
    await outboxDrained(env.db.url);
    await env.flushRedis();
    // What a Redis restart without persistence looks like from here: the connection drops, Redis is empty.
    const clientId = await app.app.get(RedisConnections).commands.client('ID');
    const admin = new Redis(REDIS_URL);
    try {
      await admin.client('KILL', 'ID', String(clientId));
    } finally {
      admin.disconnect();
    }
    await expectExpiredOnTime(env, id);
  });

  it('when Redis loses its data while the connection stays up, expiries and callbacks still happen without a restart', async () => {
    const env = await freshEnv();
    let answer = 503;
    const p = '/recovery/flush-live';
    const endpoint = server.on(p, (res) => {
      res.writeHead(answer);
      res.end();
    });
    // The periodic reconcile is a minute away (and its scheduler goes with the flush); a retry too.
    const app = await env.start({ RECONCILE_INTERVAL_SECONDS: '60', REDIS_LOSS_CHECK_INTERVAL_MS: '200', CALLBACK_BACKOFF_MS: '60000' });
    const decided = [await park(app, { endpoint, expiresIn: 600 }), await park(app, { endpoint, expiresIn: 600 })];
    for (const id of decided) await approve(app, id);
    await eventually(async () => (await Promise.all(decided.map((id) => attemptRows(env.db.url, id)))).every((a) => a.length === 1));
    const pending = [await park(app, { expiresIn: 3 }), await park(app, { expiresIn: 3 }), await park(app, { expiresIn: 3 })];
    await outboxDrained(env.db.url);

    // What FLUSHALL looks like to this app: every key gone, the connections untouched.
    expect(await env.flushRedis()).toBeGreaterThan(0);
    answer = 200;

    for (const id of pending) await expectExpiredOnTime(env, id);
    for (const id of decided) {
      const row = await eventually(async () => {
        const r = await requestRow(env.db.url, id);
        return r.callback_state === 'delivered' && r;
      }, 5000);
      expect(row.status).toBe('approved');
      expect((await attemptRows(env.db.url, id)).map((a) => [a.attempt, a.outcome])).toEqual([
        [1, 'retrying'],
        [2, 'delivered'],
      ]);
    }
    expect(server.requestsTo(p)).toHaveLength(4);
    // The periodic reconcile's scheduler is back too.
    const maintenance = queue(env, ApprovalQueue.Maintenance);
    try {
      expect(await maintenance.getJobScheduler(RECONCILE_SCHEDULER_ID)).toBeDefined();
    } finally {
      await maintenance.close();
    }
  });
});
