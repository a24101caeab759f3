import { Queue } from 'bullmq';
import { parkBody, tenantToken } from '../support/api';
import { REDIS_URL, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { eventually } from '../support/callback-server';
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
  let env: TestEnvironment;
  let api: TestApp;
  let ids: string[];

  beforeAll(async () => {
    sinks = await notificationSinks();
    env = await testEnvironment();
    api = await env.start({ ...sinks.config, RUN_WORKERS: 'false' });
    const gateway = await tenantToken();
    const body = parkBody();
    ids = [];
    for (let i = 0; i < REQUESTS; i++) {
      ids.push(await parkApproval(api, gateway, { ...body, obligation: { ...body.obligation, approvers: APPROVERS.map((a) => `user:${a}`) } }));
    }
  }, 60_000);

  afterAll(async () => {
    await env?.teardown();
    await sinks?.close();
  });

  const requestOf = (text: string) => ids.find((id) => text.includes(id));

  it("sends each request's first delivery before any request's second, and so on down the round", async () => {
    await env.start({ ...sinks.config, WORKER_CONCURRENCY: '1' });
    // A second app starting while the whole suite runs can take 15 s before its worker takes a job.
    await eventually(async () => sinks.mail.messages.length >= REQUESTS * APPROVERS.length, 60_000);
    const sent = sinks.mail.messages.map((m) => ({ to: m.envelope.to[0], request: requestOf(m.parsed.text ?? '') }));
    expect(sent).toHaveLength(REQUESTS * APPROVERS.length);
    // Round by round: the k-th wave reaches the k-th approver of every request, in the order parked.
    const waves = APPROVERS.map((_, k) => sent.slice(k * REQUESTS, (k + 1) * REQUESTS));
    waves.forEach((wave, k) => {
      expect(wave.map((s) => s.to)).toEqual(ids.map(() => `${APPROVERS[k]}@acme.example`));
      expect(wave.map((s) => s.request)).toEqual(ids);
    });
  }, 90_000);

  it('the queue ranks the jobs: a round’s first delivery unprioritised, the later ones by their place', async () => {
    const queue = new Queue('notification-deliveries', { connection: { url: REDIS_URL }, prefix: `${env.redisPrefix}-bull` });
    try {
      const jobs = await queue.getJobs(['completed']);
      const priorities = new Map<number, number>();
      for (const job of jobs) priorities.set(job.opts.priority ?? 0, (priorities.get(job.opts.priority ?? 0) ?? 0) + 1);
      expect(Object.fromEntries(priorities)).toEqual({ 0: REQUESTS, 1: REQUESTS, 2: REQUESTS });
    } finally {
      await queue.close();
    }
  });
});
