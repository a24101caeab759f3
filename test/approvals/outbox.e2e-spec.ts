import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { ApprovalQueue, expiryJobId } from '../../src/approvals/approval-queues';
import { OutboxDispatcher } from '../../src/common/outbox/outbox-dispatcher.service';
import { Outbox } from '../../src/common/outbox/outbox.service';
import { redisConnectionOptions } from '../../src/common/queues/queues.module';
import { NotificationQueue } from '../../src/notifications/notification-queues';
import { call, parkBody, tenantToken } from '../support/api';
import { REDIS_URL, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, eventually, outboxDrained, requestRow, sleep, sql } from '../support/callback-server';
import { notificationSinks, NotificationSinks } from '../support/notifications';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * The transactional outbox: what a park owes (expiry, notifications) commits with the request,
 * and the dispatcher moves it to BullMQ, at least once, never twice as two jobs.
 */
describe('the outbox: events commit with the change and reach BullMQ exactly once as jobs', () => {
  let gateway: string;
  const envs: TestEnvironment[] = [];
  const queues: Queue[] = [];

  beforeAll(async () => {
    gateway = await tenantToken();
  });
  afterAll(async () => {
    for (const q of queues) await q.close();
    for (const e of envs) await e.teardown();
  });

  async function freshEnv(): Promise<TestEnvironment> {
    const env = await testEnvironment();
    envs.push(env);
    return env;
  }

  function queue(env: TestEnvironment, name: string): Queue {
    const q = new Queue(name, { connection: redisConnectionOptions(REDIS_URL), prefix: `${env.redisPrefix}-bull` });
    queues.push(q);
    return q;
  }

  async function jobTotal(q: Queue): Promise<number> {
    const counts = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  const outboxRows = (env: TestEnvironment) =>
    sql<{ id: string; topic: string; payload: any; xmin: string }>(env.db.url, `SELECT id::text, topic, payload, xmin::text FROM outbox ORDER BY id`);

  /** A dispatcher of our own over an API-only app (RUN_WORKERS=false runs none), so that each batch is the test's to run. */
  function dispatcherOf(app: TestApp): OutboxDispatcher {
    return new OutboxDispatcher(app.app.get(DataSource), app.app.get(Outbox), app.config);
  }

  it('a park writes its approval.created event in the same transaction as the row; a failed park leaves neither', async () => {
    const env = await freshEnv();
    const app = await env.start({ RUN_WORKERS: 'false' });
    const id = await parkApproval(app, gateway, parkBody({ obligation: { approvers: ['user:bob'], quorum: 1, expires_in: 60, remind_after: 30 } }));
    const [event] = await outboxRows(env);
    expect(event.topic).toBe('approval.created');
    expect(event.payload).toMatchObject({ tenantId: 'acme', approvalId: id, escalateAfter: null, remindAfter: 30 });
    const [row] = await sql<{ xmin: string; expires_at: Date }>(env.db.url, `SELECT xmin::text, expires_at FROM approval_requests WHERE id = $1`, [id]);
    // One transaction id: the request and its event committed together.
    expect(event.xmin).toBe(row.xmin);
    expect(new Date(event.payload.expiresAt).getTime()).toBe(row.expires_at.getTime());
    // No dispatcher in this process, and the request path called no Redis: no job yet.
    expect(await queue(env, ApprovalQueue.Expiry).getJob(expiryJobId(id))).toBeUndefined();

    // The audit insert of the park statement fails: nothing of the park remains, no event either.
    await sql(
      env.db.url,
      `CREATE FUNCTION refuse_park() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.type = 'approval.created' THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$`,
    );
    await sql(env.db.url, `CREATE TRIGGER refuse_park BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_park()`);
    const refused = await call(app.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ reason: 'this park must leave nothing behind' }) });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    await sql(env.db.url, `DROP TRIGGER refuse_park ON audit_events`);
    expect(await sql(env.db.url, `SELECT id FROM approval_requests WHERE reason = 'this park must leave nothing behind'`)).toEqual([]);
    expect((await outboxRows(env)).map((r) => r.payload.approvalId)).toEqual([id]);
  });

  it('a decision owed to a ping callback commits its approval.callback_owed event with the settlement', async () => {
    const env = await freshEnv();
    const app = await env.start({ RUN_WORKERS: 'false' });
    const body = parkBody({ obligation: { approvers: ['user:bob'], quorum: 1, expires_in: 600 } });
    body.delivery = { mode: 'ping', notification_endpoint: 'http://127.0.0.1:9/outbox-callback', notification_token: 'outbox-token' };
    const id = await parkApproval(app, gateway, body);
    const vote = await voteAs(app, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
    expect(vote.body).toMatchObject({ status: 'approved' });
    const owed = (await outboxRows(env)).filter((r) => r.topic === 'approval.callback_owed');
    expect(owed.map((r) => r.payload)).toEqual([{ tenantId: 'acme', approvalId: id }]);
    // Written by the transaction that settled the request (its row's current version).
    const [row] = await sql<{ xmin: string; callback_state: string }>(env.db.url, `SELECT xmin::text, callback_state FROM approval_requests WHERE id = $1`, [
      id,
    ]);
    expect(row.callback_state).toBe('pending');
    expect(owed[0].xmin).toBe(row.xmin);
  });

  it('a dispatcher that dies between adding the jobs and deleting the rows re-dispatches them without a second job', async () => {
    const env = await freshEnv();
    const app = await env.start({ RUN_WORKERS: 'false' });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await parkApproval(app, gateway, parkBody({ obligation: { approvers: ['user:bob'], quorum: 1, expires_in: 60 } })));
    const expiry = queue(env, ApprovalQueue.Expiry);
    const dispatcher = dispatcherOf(app);

    // The jobs are in Redis, then the process "dies" before its deletion commits: the rows stay.
    await expect(dispatcher.dispatchBatch(async () => Promise.reject(new Error('killed after addBulk')))).rejects.toThrow('killed after addBulk');
    expect((await outboxRows(env)).map((r) => r.payload.approvalId)).toEqual(ids);
    expect(await jobTotal(expiry)).toBe(3);
    const firstAdded = await Promise.all(ids.map(async (id) => (await expiry.getJob(expiryJobId(id)))!.timestamp));

    // The next run (this or another instance) dispatches them again: the same three jobs, untouched, and the rows go.
    expect(await dispatcher.dispatchBatch()).toHaveLength(3);
    expect(await outboxRows(env)).toEqual([]);
    expect(await jobTotal(expiry)).toBe(3);
    expect(await Promise.all(ids.map(async (id) => (await expiry.getJob(expiryJobId(id)))!.timestamp))).toEqual(firstAdded);
  });

  it('two dispatchers never take the same rows (SKIP LOCKED), and together they take all', async () => {
    const env = await freshEnv();
    const app = await env.start({ RUN_WORKERS: 'false', OUTBOX_BATCH_SIZE: '5' });
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await parkApproval(app, gateway, parkBody({ obligation: { approvers: ['user:bob'], quorum: 1, expires_in: 60 } })));
    const all = (await outboxRows(env)).map((r) => r.id);
    expect(all).toHaveLength(12);
    const [a, b] = [dispatcherOf(app), dispatcherOf(app)];

    // B runs its whole batch while A holds its own, claimed but not yet committed.
    let byB: string[] = [];
    const byA = await a.dispatchBatch(async () => {
      byB = await b.dispatchBatch();
    });
    expect(byA).toHaveLength(5);
    expect(byB).toHaveLength(5);
    expect(byA.filter((id) => byB.includes(id))).toEqual([]);
    const rest = await a.dispatchBatch();
    expect([...byA, ...byB, ...rest].sort()).toEqual([...all].sort());
    expect(await b.dispatchBatch()).toEqual([]);
    expect(await jobTotal(queue(env, ApprovalQueue.Expiry))).toBe(12);
  });

  describe('with Redis unreachable during the park', () => {
    let sinks: NotificationSinks;
    let proxy: TcpProxy;

    beforeAll(async () => {
      sinks = await notificationSinks();
      const redis = new URL(REDIS_URL);
      proxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
    });
    afterAll(async () => {
      await proxy.cut();
      await sinks.close();
    });

    it('the park succeeds, and its expiry and notifications happen once Redis is back', async () => {
      const env = await freshEnv();
      // The gateway rate limit counts in Redis: off here, so that parking itself is what is tested.
      const app = await env.start({ ...sinks.config, REDIS_URL: proxy.via(REDIS_URL), RATE_LIMIT_GATEWAY: 'off', OUTBOX_POLL_INTERVAL_MS: '50' });
      await proxy.cut();

      const started = Date.now();
      const res = await call(app.url, 'POST', '/v1/approvals', {
        token: gateway,
        body: parkBody({ obligation: { approvers: ['user:carol'], quorum: 1, expires_in: 4 } }),
      });
      expect(res.status).toBe(200);
      const id = res.body.auth_req_id as string;
      // Answered from Postgres alone: well below the dispatcher's 5 s Redis timeout.
      expect(Date.now() - started).toBeLessThan(2000);
      expect((await outboxRows(env)).map((r) => r.topic).sort()).toEqual(['approval.created', 'notification.queued']);
      await sleep(500);
      expect(sinks.mail.messages.filter((m) => (m.parsed.text ?? '').includes(id))).toEqual([]);

      await proxy.restore();
      const mail = await sinks.mail.waitFor((m) => m.envelope.to.includes('carol@acme.example') && (m.parsed.text ?? '').includes(id), 15_000);
      expect(mail).toBeDefined();
      await outboxDrained(env.db.url, 15_000);
      const row = await eventually(async () => {
        const r = await requestRow(env.db.url, id);
        return r.status !== 'pending' && r;
      }, 15_000);
      expect(row.status).toBe('expired');
      expect(row.decided_at!.getTime()).toBeGreaterThanOrEqual(row.expires_at.getTime());
      expect((await auditTypes(env.db.url, id)).filter((e) => e.type === 'approval.expired')).toHaveLength(1);
      const deliveries = queue(env, NotificationQueue.Deliveries);
      expect(await jobTotal(deliveries)).toBe(1);
      await app.close();
    }, 40_000);
  });
});
