import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { parkApproval } from '../support/approvals';
import { eventually, sleep } from '../support/callback-server';
import { TcpProxy } from '../support/tcp-proxy';
import { Client } from 'pg';

describe('when Postgres cannot be reached', () => {
  let env: TestEnvironment;
  let proxy: TcpProxy;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    const db = new URL(env.db.url);
    proxy = await TcpProxy.start(db.hostname, Number(db.port || 5432));
    // The app reaches its database only through the proxy.
    api = await env.start({ DATABASE_URL: proxy.via(env.db.url), RUN_WORKERS: 'false' });
    gateway = await tenantToken();
  });
  afterAll(async () => {
    await proxy.restore().catch(() => undefined);
    await env.teardown();
    await proxy.cut();
  });

  it('a call that needs the database answers 503 temporarily_unavailable with Retry-After, leaks nothing, and recovers', async () => {
    const id = await parkApproval(api, gateway, parkBody());
    expect((await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway })).status).toBe(200);

    await proxy.cut();
    for (const [method, path, body] of [
      ['GET', `/v1/approvals/${id}`, undefined],
      ['POST', '/v1/approvals', parkBody()],
    ] as const) {
      const res = await call(api.url, method, path, { token: gateway, body });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/ECONN|terminated|127\.0\.0\.1|postgres|:\d{2,5}/i);
    }

    await proxy.restore();
    await eventually(async () => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway })).status === 200);
    const back = await eventually(async () => {
      const res = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
      return res.status === 200 && res;
    });
    expect(back.body).toMatchObject({ auth_req_id: id });
  });

  it('a vote while the database is away answers 503 (not 500), and the same vote counts once it is back', async () => {
    const id = await parkApproval(api, gateway, parkBody());
    // The link is minted while the database is up; the vote is cast while it is down.
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    const vote = () => call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token, body: { decision: 'approve', reason: 'looks right' } });

    await proxy.cut();
    const down = await vote();
    expect({ status: down.status, body: down.body }).toEqual({
      status: 503,
      body: { error: 'temporarily_unavailable', error_description: expect.any(String) },
    });
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);

    await proxy.restore();
    const back = await eventually(async () => {
      const res = await vote();
      return res.status !== 503 && res;
    });
    expect(back.status).toBe(200);
  });

  it('votes whose database connections are terminated mid-transaction answer 503 or 200, never 500, and every 200 is recorded', async () => {
    // What a Postgres restart does to votes in flight: the backend is terminated between two of a
    // transaction's queries, TypeORM releases the runner and the next query throws its own error.
    const admin = new Client({ connectionString: env.db.url });
    await admin.connect();
    const terminateAppBackends = () =>
      admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    const seen: Record<number, number> = {};
    try {
      // The delay before the terminate grows each round, so early rounds cut votes mid-flight (503s)
      // and later ones let some finish (200s), whatever the machine's speed; until both were seen.
      for (let round = 0; round < 40 && !(seen[503] && seen[200] && round >= 6); round++) {
        const ids = await Promise.all(Array.from({ length: 15 }, () => parkApproval(api, gateway, parkBody())));
        const links = await Promise.all(ids.map((id) => api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' })));
        const votes = ids.map((id, i) =>
          call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: links[i].token, body: { decision: 'approve', reason: 'r' } }),
        );
        await sleep(round * 10);
        await terminateAppBackends();
        const answers = await Promise.all(votes);
        for (const [i, res] of answers.entries()) {
          seen[res.status] = (seen[res.status] ?? 0) + 1;
          expect({ status: res.status, body: res.body }).toEqual(
            res.status === 503
              ? { status: 503, body: { error: 'temporarily_unavailable', error_description: expect.any(String) } }
              : expect.objectContaining({ status: 200 }),
          );
          const recorded = await eventually(async () => {
            const r = await call(api.url, 'GET', `/v1/approvals/${ids[i]}`, { token: gateway });
            return r.status === 200 && r.body.status;
          });
          // A 503 may still have committed (the reply lost, not the vote): a retry then meets already_voted.
          if (res.status === 200) expect(recorded).toBe('approved');
          else expect(['pending', 'approved']).toContain(recorded);
        }
      }
    } finally {
      await admin.end();
    }
    // Both outcomes happened, or the test did not probe what it claims to.
    expect(seen[503]).toBeGreaterThan(0);
    expect(seen[200]).toBeGreaterThan(0);
  });
});
