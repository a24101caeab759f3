import { HealthIndicatorService } from '@nestjs/terminus';
import { Client } from 'pg';
import { ApprovalQueue } from '../../src/approvals/approval-queues';
import { NotificationQueue } from '../../src/notifications/notification-queues';
import { Metrics } from '../../src/ops/metrics.service';
import { RedisConnections } from '../../src/common/redis/redis-connections';
import { AppConfig } from '../../src/config/app-config';
import { expectedMigrationNames, RedisHealthIndicator } from '../../src/ops/health-indicators';
import { adminToken, call } from '../support/api';
import { freePort, REDIS_URL, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { eventually } from '../support/callback-server';
import { gatewayToken } from '../support/keys';
import { OPERATORS, operatorToken } from './operators';
import { RedisProxy } from './redis-proxy';

const ALL_QUEUES = [...Object.values(ApprovalQueue), ...Object.values(NotificationQueue)];

async function withDb<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A plain fetch (no JSON parsing, no redirect following). */
async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('ops: readiness, metrics and the queue dashboard', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let operator: string;
  let tenantAdmin: string;
  let plain: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start(OPERATORS);
    operator = await operatorToken();
    // A tenant's admin with every scope a tenant has, from the same issuer as the operator.
    tenantAdmin = await adminToken('acme', 'countersign:admin countersign:audit countersign:delegations', 'acme-admin');
    plain = await gatewayToken({ tenant: 'acme', sub: 'gateway-1', scope: 'countersign:delegations' });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  describe('GET /health/ready', () => {
    it('is 200 with details for the database, Redis and migrations, without a credential', async () => {
      const res = await call(api.url, 'GET', '/health/ready');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'ok',
        details: {
          database: { status: 'up' },
          redis: { status: 'up' },
          migrations: { status: 'up', applied: expectedMigrationNames().length },
        },
        error: {},
      });
      expect(res.headers.get('cache-control')).toContain('no-store');
    });

    it('is 503 naming migrations when a migration is not recorded, and 200 again once it is', async () => {
      const last = expectedMigrationNames().at(-1)!;
      const removed = await withDb(env.db.url, (c) => c.query(`DELETE FROM migrations WHERE name = $1 RETURNING timestamp, name`, [last]));
      expect(removed.rowCount).toBe(1);
      try {
        const res = await call(api.url, 'GET', '/health/ready');
        expect(res.status).toBe(503);
        expect(res.body.status).toBe('error');
        expect(Object.keys(res.body.error)).toEqual(['migrations']);
        expect(res.body.error.migrations).toMatchObject({ status: 'down' });
        expect(res.body.error.migrations.message).toContain(last);
        expect(res.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
      } finally {
        const { timestamp, name } = removed.rows[0];
        await withDb(env.db.url, (c) => c.query(`INSERT INTO migrations (timestamp, name) VALUES ($1, $2)`, [timestamp, name]));
      }
      expect((await call(api.url, 'GET', '/health/ready')).status).toBe(200);
    });

    // An app started against a closed Redis port never finishes start-up (its pub/sub
    // subscriptions wait for Redis), so the app test cuts Redis under a running app instead,
    // and the indicator is also checked on its own against a closed port.
    it('is 503 naming redis when Redis stops answering under a running app, and 200 once it is back', async () => {
      const proxy = await RedisProxy.start(REDIS_URL);
      const app = await env.start({ REDIS_URL: proxy.url, RUN_WORKERS: 'false' });
      try {
        expect((await call(app.url, 'GET', '/health/ready')).status).toBe(200);
        await proxy.cut();

        const res = await call(app.url, 'GET', '/health/ready');
        expect(res.status).toBe(503);
        expect(res.body.status).toBe('error');
        expect(Object.keys(res.body.error)).toEqual(['redis']);
        expect(res.body.error.redis).toMatchObject({ status: 'down' });
        expect(res.body.info).toMatchObject({ database: { status: 'up' }, migrations: { status: 'up' } });
        // Liveness does not depend on Redis.
        expect((await call(app.url, 'GET', '/health/live')).status).toBe(200);
      } finally {
        await proxy.restore();
      }
      await eventually(async () => (await call(app.url, 'GET', '/health/ready')).status === 200, 15_000);
      await app.close();
      await proxy.cut();
    }, 30_000);

    it('RedisHealthIndicator (on its own) reports down against a closed port', async () => {
      const redis = new RedisConnections({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_PREFIX: 'cstest-closed' } as AppConfig);
      for (const connection of [redis.commands, redis.subscriber]) connection.on('error', () => undefined);
      try {
        const result = await new RedisHealthIndicator(new HealthIndicatorService(), redis).pingCheck('redis', 500);
        expect(result.redis.status).toBe('down');
      } finally {
        redis.commands.disconnect();
        redis.subscriber.disconnect();
      }
    });
  });

  describe('GET /metrics', () => {
    it('is 401 without a token and 403 without the operator scope', async () => {
      const anonymous = await call(api.url, 'GET', '/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).toMatchObject({ error: 'invalid_token' });
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);

      const notAdmin = await call(api.url, 'GET', '/metrics', { token: plain });
      expect(notAdmin.status).toBe(403);
      expect(notAdmin.body).toMatchObject({ error: 'insufficient_scope' });
    });

    it('serves the Prometheus text format: process metrics, approvals and queue gauges', async () => {
      const res = await get(`${api.url}/metrics`, { authorization: `Bearer ${operator}` });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).toContain('process_cpu_seconds_total');
      expect(res.text).toContain('# TYPE countersign_approvals gauge');
      expect(res.text).toMatch(/^countersign_approvals\{status="pending"\} \d+$/m);
      // every status is exported, at 0 when no request is in it, so a dashboard's series never vanish
      for (const status of ['pending', 'approved', 'denied', 'expired', 'cancelled']) {
        expect(res.text).toMatch(new RegExp(`^countersign_approvals\\{status="${status}"\\} \\d+$`, 'm'));
      }
      expect(res.text).toContain('countersign_queue_jobs{queue="approval-expiry"');
      for (const queue of ALL_QUEUES) {
        for (const state of ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed']) {
          expect(res.text).toMatch(new RegExp(`^countersign_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+$`, 'm'));
        }
        expect(res.text).toMatch(new RegExp(`^countersign_queue_failures_total\\{queue="${queue}"\\} \\d+$`, 'm'));
      }
    });

    it('counts what other modules record through Metrics', async () => {
      const metrics = api.app.get(Metrics);
      metrics.decision('allow', ['x'], 0.01);
      metrics.approvalSettled('approved', 42);
      metrics.notification('email', 'sent');
      metrics.callbackFailed();

      const res = await get(`${api.url}/metrics`, { authorization: `Bearer ${operator}` });
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^countersign_decisions_total\{verdict="allow",reason="x"\} 1$/m);
      expect(res.text).toMatch(/^countersign_decision_duration_seconds_count\{verdict="allow"\} 1$/m);
      expect(res.text).toMatch(/^countersign_time_to_decision_seconds_count\{status="approved"\} 1$/m);
      expect(res.text).toMatch(/^countersign_notification_deliveries_total\{channel="email",outcome="sent"\} 1$/m);
      expect(res.text).toMatch(/^countersign_callback_failures_total 1$/m);
    });
  });

  describe('operating the service is for operators, not tenants', () => {
    const OPERATOR_ROUTES = [
      '/metrics',
      '/admin/queues',
      '/admin/queues/',
      '/admin/queues/api/queues',
      `/admin/queues/api/queues?activeQueue=${ApprovalQueue.Expiry}`,
      '/admin/queues/queue/approval-expiry',
    ];

    it("a tenant's admin token (countersign:admin and every other tenant scope) gets 403 on metrics, the dashboard, its API and the login, and sees nothing", async () => {
      for (const path of OPERATOR_ROUTES) {
        for (const headers of [{ authorization: `Bearer ${tenantAdmin}` }, { cookie: `countersign_admin=${tenantAdmin}` }] as Record<string, string>[]) {
          if (path === '/metrics' && 'cookie' in headers) continue; // the cookie is scoped to /admin
          const res = await get(`${api.url}${path}`, headers);
          expect({ path, via: Object.keys(headers)[0], status: res.status }).toEqual({ path, via: Object.keys(headers)[0], status: 403 });
          expect(JSON.parse(res.text)).toMatchObject({ error: 'insufficient_scope', error_description: expect.stringContaining('countersign:operator') });
          expect(res.text).not.toContain('approval-expiry');
          expect(res.text).not.toContain('countersign_');
        }
      }
      const login = await get(`${api.url}/admin/login?token=${encodeURIComponent(tenantAdmin)}`);
      expect(login.status).toBe(403);
      expect(login.headers.get('set-cookie')).toBeNull();
    });

    it('the operator scope is not enough on a subject missing from OPERATOR_SUBJECTS (403 forbidden), nor a listed subject without the scope (403)', async () => {
      const unlisted = await operatorToken('acme-admin');
      const listedAsTenantAdmin = await adminToken('acme', 'countersign:admin', 'platform-oncall');
      for (const [token, error] of [
        [unlisted, 'forbidden'],
        [listedAsTenantAdmin, 'insufficient_scope'],
      ] as const) {
        for (const path of OPERATOR_ROUTES) {
          const res = await get(`${api.url}${path}`, { authorization: `Bearer ${token}` });
          expect({ path, error, status: res.status }).toEqual({ path, error, status: 403 });
          expect(JSON.parse(res.text)).toMatchObject({ error });
        }
        const login = await get(`${api.url}/admin/login?token=${encodeURIComponent(token)}`);
        expect(login.status).toBe(403);
        expect(login.headers.get('set-cookie')).toBeNull();
      }
    });

    it('with OPERATOR_SUBJECTS unset (the default) nobody is an operator', async () => {
      const bare = await env.start({ RUN_WORKERS: 'false' });
      try {
        for (const path of ['/metrics', '/admin/queues', '/admin/queues/api/queues']) {
          const res = await call(bare.url, 'GET', path, { token: operator });
          expect({ path, status: res.status }).toEqual({ path, status: 403 });
          expect(res.body).toMatchObject({ error: 'forbidden' });
        }
        expect((await get(`${bare.url}/admin/login?token=${encodeURIComponent(operator)}`)).status).toBe(403);
      } finally {
        await bare.close();
      }
    });
  });

  describe('/admin/queues', () => {
    it('is 401 with a Bearer challenge without credentials, on the page and on its API', async () => {
      for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/queue/approval-expiry']) {
        const res = await call(api.url, 'GET', path);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: 'invalid_token' });
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      }
      const forged = await call(api.url, 'GET', '/admin/queues/api/queues', { headers: { cookie: 'countersign_admin=not.a.token' } });
      expect(forged.status).toBe(401);
    });

    it('shows a browser without a session a self-contained sign-in page (401, HTML), API clients the JSON 401', async () => {
      for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/queue/approval-expiry']) {
        const page = await get(`${api.url}${path}`, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
        expect({ path, status: page.status }).toEqual({ path, status: 401 });
        expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(page.headers.get('www-authenticate')).toMatch(/^Bearer /);
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
        expect(page.text).toContain('<form method="get" action="/admin/login">');
        expect(page.text).toContain('countersign:operator');
        expect(page.text).not.toMatch(/<script|<link|https?:\/\//);
      }
      // The board's own API, and a browser presenting a bad credential, keep the JSON answer.
      const api401 = await get(`${api.url}/admin/queues/api/queues`, { accept: 'text/html' });
      expect(JSON.parse(api401.text)).toMatchObject({ error: 'invalid_token' });
      const forged = await get(`${api.url}/admin/queues`, { accept: 'text/html', cookie: 'countersign_admin=not.a.token' });
      expect(forged.status).toBe(401);
      expect(JSON.parse(forged.text)).toMatchObject({ error: 'invalid_token' });
    });

    it('is 403 with a gateway token without the operator scope (header or cookie)', async () => {
      const bearer = await call(api.url, 'GET', '/admin/queues', { token: plain });
      expect(bearer.status).toBe(403);
      expect(bearer.body).toMatchObject({ error: 'insufficient_scope' });
      const cookie = await call(api.url, 'GET', '/admin/queues', { headers: { cookie: `countersign_admin=${plain}` } });
      expect(cookie.status).toBe(403);
    });

    it('serves the dashboard to an operator bearer token, with every queue of the service, read-only', async () => {
      const page = await get(`${api.url}/admin/queues`, { authorization: `Bearer ${operator}` });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.text).toContain('Countersign queues');

      const queues = await call(api.url, 'GET', '/admin/queues/api/queues', { token: operator });
      expect(queues.status).toBe(200);
      expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([...ALL_QUEUES].sort());
      expect(queues.body.queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);

      const pause = await call(api.url, 'PUT', `/admin/queues/api/queues/${ApprovalQueue.Expiry}/pause`, { token: operator });
      expect(pause.status).toBe(405);
    });

    it('GET /admin/login turns an operator token into an HttpOnly SameSite=Strict cookie that opens the dashboard', async () => {
      const login = await get(`${api.url}/admin/login?token=${encodeURIComponent(operator)}`);
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/admin/queues');
      expect(login.headers.get('cache-control')).toBe('no-store');
      const setCookie = login.headers.get('set-cookie') ?? '';
      const attributes = setCookie.split(';').map((s) => s.trim());
      expect(attributes[0]).toBe(`countersign_admin=${operator}`);
      expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/admin']));
      expect(attributes).not.toContain('Secure'); // PUBLIC_URL is http here
      const maxAge = Number(attributes.find((a) => a.startsWith('Max-Age='))!.slice('Max-Age='.length));
      expect(maxAge).toBeGreaterThan(0);
      expect(maxAge).toBeLessThanOrEqual(600); // the token's 10 minutes

      const cookie = attributes[0];
      const page = await get(`${api.url}/admin/queues`, { cookie });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      const queues = await call(api.url, 'GET', '/admin/queues/api/queues', { headers: { cookie } });
      expect(queues.status).toBe(200);
      expect(queues.body.queues.map((q: { name: string }) => q.name).sort()).toEqual([...ALL_QUEUES].sort());
    });

    it('GET /admin/login refuses a missing or invalid token (401) and a non-operator token (403), and sets no cookie', async () => {
      for (const [query, status] of [
        ['', 401],
        ['?token=nope', 401],
        [`?token=${encodeURIComponent(plain)}`, 403],
      ] as const) {
        const res = await get(`${api.url}/admin/login${query}`);
        expect(res.status).toBe(status);
        expect(res.headers.get('set-cookie')).toBeNull();
      }
    });

    it('marks the cookie Secure when PUBLIC_URL is https', async () => {
      const https = await env.start({ ...OPERATORS, PUBLIC_URL: 'https://countersign.example' });
      try {
        const login = await get(`${https.url}/admin/login?token=${encodeURIComponent(operator)}`);
        expect(login.status).toBe(303);
        expect((login.headers.get('set-cookie') ?? '').split(';').map((s) => s.trim())).toContain('Secure');
      } finally {
        await https.close();
      }
    });

    it('answers 400 invalid_request, never 500, to a malformed percent-encoding in its query or path', async () => {
      for (const path of [
        '/admin/queues/api/queues?activeQueue=%25',
        '/admin/queues/api/queues?activeQueue=%E0%A4%A',
        '/admin/queues?activeQueue=%25',
        '/admin/queues/api/job-schedulers?queueName=%25',
        '/admin/queues/api/queues/%E0%A4%A',
        '/admin/queues/api/queues/approval-expiry/%25%E0/logs',
        '/admin/queues/queue/%E0%A4%A',
      ]) {
        const res = await get(`${api.url}${path}`, { authorization: `Bearer ${operator}` });
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect({ path, body: JSON.parse(res.text) }).toMatchObject({
          path,
          body: { error: 'invalid_request', error_description: expect.stringMatching(/percent-encoding/) },
        });
      }
      // A well-formed value still works.
      const ok = await call(api.url, 'GET', `/admin/queues/api/queues?activeQueue=${ApprovalQueue.Expiry}`, { token: operator });
      expect(ok.status).toBe(200);
      // Fastify's router rejects such a path before any route runs, on every route: in the API's error shape too.
      const routed = await get(`${api.url}/v1/approvals/%E0%A4%A`);
      expect(routed.status).toBe(400);
      expect(JSON.parse(routed.text)).toEqual({ error: 'invalid_request', error_description: 'the path is not valid percent-encoding (RFC 3986)' });
    });

    it('leaves the other routes to the AuthGuard (the hook is scoped to /admin/queues)', async () => {
      expect((await call(api.url, 'GET', '/health/live')).status).toBe(200);
      expect((await call(api.url, 'GET', '/admin/other')).status).toBe(404);
    });
  });
});
