import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { eventually } from '../support/callback-server';
import { TcpProxy } from '../support/tcp-proxy';

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
    const back = await eventually(async () => {
      const res = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
      return res.status === 200 && res;
    });
    expect(back.body).toMatchObject({ auth_req_id: id });
  });
});
