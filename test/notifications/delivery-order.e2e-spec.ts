import { Queue } from 'bullmq';
import { parkBody, tenantToken } from '../support/api';
import { REDIS_URL, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { eventually, sql } from '../support/callback-server';
import { notificationSinks, NotificationSinks } from '../support/notifications';

/**
 * A backlog of deliveries is worked breadth-first: every request's first notification before any
 * request's second. The API parks with no worker running (RUN_WORKERS=false), so every delivery
 * is owed at once; then one worker taking one job at a time works the backlog.
 */
describe('delivery order under a backlog', () => {
  const APPROVERS = ['bob', 'carol', 'dave'];
  const REQUESTS = 4;
  let sinks: NotificationSinks;
  const envs: TestEnvironment[] = [];

  beforeAll(async () => {
    sinks = await notificationSinks();
  });

  afterAll(async () => {
    for (const env of envs) await env.teardown();
    await sinks?.close();
  });

  /** A new environment whose API has parked REQUESTS requests for the three approvers, with nothing sent yet. */
  async function parkedBacklog(): Promise<{ env: TestEnvironment; ids: string[] }> {
    const env = await testEnvironment();
    envs.push(env);
    const api = await env.start({ ...sinks.config, RUN_WORKERS: 'false' });
    const gateway = await tenantToken();
    const body = parkBody();
    const ids: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      ids.push(await parkApproval(api, gateway, { ...body, obligation: { ...body.obligation, approvers: APPROVERS.map((a) => `user:${a}`) } }));
    }
    return { env, ids };
  }

  /** Starts a worker taking one job at a time and checks the order its e-mails went in: wave k reaches the k-th approver of every request, in the order parked. */
  async function expectBreadthFirst(env: TestEnvironment, ids: string[]): Promise<void> {
    const ours = () =>
      sinks.mail.messages
        .map((m) => ({ to: m.envelope.to[0], request: ids.find((id) => (m.parsed.text ?? '').includes(id)) }))
        .filter((s) => s.request !== undefined);
    await env.start({ ...sinks.config, WORKER_CONCURRENCY: '1' });
    // A second app starting while the whole suite runs can take 15 s before its worker takes a job.
    await eventually(async () => ours().length >= REQUESTS * APPROVERS.length, 60_000);
    const sent = ours();
    expect(sent).toHaveLength(REQUESTS * APPROVERS.length);
    APPROVERS.forEach((approver, k) => {
      const wave = sent.slice(k * REQUESTS, (k + 1) * REQUESTS);
      expect(wave.map((s) => s.to)).toEqual(ids.map(() => `${approver}@acme.example`));
      expect(wave.map((s) => s.request)).toEqual(ids);
    });
  }

  it("sends each request's first delivery before any request's second, and so on down the round; the queue ranks the jobs", async () => {
    const { env, ids } = await parkedBacklog();
    await expectBreadthFirst(env, ids);
    const queue = new Queue('notification-deliveries', { connection: { url: REDIS_URL }, prefix: `${env.redisPrefix}-bull` });
    try {
      const priorities = new Map<number, number>();
      for (const job of await queue.getJobs(['completed'])) priorities.set(job.opts.priority ?? 0, (priorities.get(job.opts.priority ?? 0) ?? 0) + 1);
      // A round's first delivery unprioritised (BullMQ takes those first), the later ones by their place.
      expect(Object.fromEntries(priorities)).toEqual({ 0: REQUESTS, 1: REQUESTS, 2: REQUESTS });
    } finally {
      await queue.close();
    }
  }, 120_000);

  it('keeps that order when the queue is rebuilt from Postgres (Redis lost the jobs after their events were dispatched)', async () => {
    const { env, ids } = await parkedBacklog();
    // As if the dispatcher had moved the events to Redis and Redis then lost them: only the reconciler can queue the deliveries.
    await sql(env.db.url, `DELETE FROM outbox`);
    await expectBreadthFirst(env, ids);
  }, 120_000);
});
