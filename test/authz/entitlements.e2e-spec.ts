/**
 * The human's own entitlements (real HTTP, Postgres, Redis, two instances): the effective
 * permission is what the human holds themselves ∩ every hop's delegation. A delegation beyond
 * the human's entitlements is refused when granted (400 naming the field); a call the delegation
 * covers but the human no longer holds is denied `not_entitled` under a permit-all set; and an
 * entitlement removed through the directory admin API on one instance denies the next call on
 * the other within a second. A person with no entitlements recorded is unrestricted, as before.
 */
import { randomUUID } from 'node:crypto';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

describe("a human's own entitlements bound every delegation and every call", () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;

  const putPerson = (id: string, entitlements?: unknown) =>
    call(a.url, 'PUT', `/v1/approvers/${id}`, { token: admin, body: { display_name: id, ...(entitlements !== undefined ? { entitlements } : {}) } });
  const grant = (body: Record<string, unknown>) => call(a.url, 'POST', '/v1/delegations', { token: admin, body });
  const authorize = async (app: TestApp, human: string, agent: string, server: string, tool: string, resource?: string) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: await agentToken({ human, actors: [agent] }) },
        action: { server, tool, arguments: {} },
        ...(resource ? { resource: { id: resource } } : {}),
        correlation: { mcp_session_id: `s-${randomUUID()}` },
      },
    });

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    gateway = await tenantToken('acme', 'gateway-1');
    const published = await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: { policies: { all: 'permit (principal, action, resource);' }, activate: true },
    });
    expect(published.status).toBe(201);
  });
  afterAll(() => env.teardown());

  it('PUT /v1/approvers stores entitlements (validated like delegation patterns), shows them, and audits them', async () => {
    const bad = await putPerson('en-val', { tools: ['payments'] });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('entitlements.tools.0');
    const ok = await putPerson('en-val', { tools: ['calendar/*'], resources: ['cal-*'] });
    expect(ok.status).toBe(201);
    expect(ok.body.entitlements).toEqual({ tools: ['calendar/*'], resources: ['cal-*'] });
    expect((await call(a.url, 'GET', '/v1/approvers/en-val', { token: admin })).body.entitlements).toEqual({ tools: ['calendar/*'], resources: ['cal-*'] });
    const replaced = await putPerson('en-val');
    expect(replaced.status).toBe(200);
    expect(replaced.body.entitlements).toBeNull();
    const audit = await sql<{ type: string; data: any }>(
      env.db.url,
      `SELECT type, data FROM audit_events WHERE type LIKE 'directory.approver_%' AND data->>'approver' = 'en-val' ORDER BY id`,
    );
    expect(audit.map((e) => [e.type, e.data.entitlements])).toEqual([
      ['directory.approver_created', { tools: ['calendar/*'], resources: ['cal-*'] }],
      ['directory.approver_updated', null],
    ]);
  });

  it("a delegation beyond the human's entitlements is refused, naming the field; one within them is granted", async () => {
    expect((await putPerson('en-grant', { tools: ['calendar/*', 'orders/read_order'], resources: ['cal-en-*'] })).status).toBe(201);
    const tool = await grant({ human: 'en-grant', agent: 'en-agent', tools: ['payments/transfer_funds'], resources: ['cal-en-1'] });
    expect(tool.status).toBe(400);
    expect(tool.body).toMatchObject({ error: 'invalid_request', field: 'tools' });
    expect(tool.body.error_description).toContain('payments/transfer_funds');
    expect((await grant({ human: 'en-grant', agent: 'en-agent', tools: ['*'], resources: ['cal-en-1'] })).body.field).toBe('tools');
    expect((await grant({ human: 'en-grant', agent: 'en-agent', tools: ['orders/*'], resources: ['cal-en-1'] })).body.field).toBe('tools');
    const resource = await grant({ human: 'en-grant', agent: 'en-agent', tools: ['calendar/read_calendar'], resources: ['cal-ceo'] });
    expect(resource.status).toBe(400);
    expect(resource.body.field).toBe('resources');
    // No resources named means any resource, which is more than cal-en-*.
    expect((await grant({ human: 'en-grant', agent: 'en-agent', tools: ['calendar/read_calendar'] })).body.field).toBe('resources');
    const within = await grant({ human: 'en-grant', agent: 'en-agent', tools: ['calendar/read_calendar', 'orders/read_order'], resources: ['cal-en-1'] });
    expect(within.status).toBe(201);
    // A person with none recorded (a seeded one) is unrestricted, as before.
    expect((await grant({ human: 'alice', agent: 'en-agent', tools: ['*'] })).status).toBe(201);
  });

  it("a call within the delegation but outside the human's entitlements is denied not_entitled under a permit-all set", async () => {
    expect((await putPerson('en-call')).status).toBe(201);
    // Granted while the human was unrestricted; their entitlements are narrowed afterwards.
    expect((await grant({ human: 'en-call', agent: 'en-caller', tools: ['orders/*'] })).status).toBe(201);
    expect((await authorize(a, 'en-call', 'en-caller', 'orders', 'delete_order')).body.verdict).toBe('allow');
    expect((await putPerson('en-call', { tools: ['orders/read_order'] })).status).toBe(200);
    const denied = await authorize(a, 'en-call', 'en-caller', 'orders', 'delete_order');
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ verdict: 'deny', reasons: ['not_entitled'] });
    const allowed = await authorize(a, 'en-call', 'en-caller', 'orders', 'read_order');
    expect(allowed.body.verdict).toBe('allow');
    // Outside both: both built-in reasons.
    const neither = await authorize(a, 'en-call', 'en-caller', 'payments', 'transfer_funds');
    expect(neither.body).toMatchObject({ verdict: 'deny', reasons: ['not_entitled', 'not_delegated'] });
  });

  it('an entitlement removed on instance A denies the next call on instance B within a second', async () => {
    expect((await putPerson('en-prop', { tools: ['orders/*'] })).status).toBe(201);
    expect((await grant({ human: 'en-prop', agent: 'en-prop-agent', tools: ['orders/*'] })).status).toBe(201);
    // Warm B's cache, so that what B answers next comes from the invalidation, not a cold read.
    expect((await authorize(b, 'en-prop', 'en-prop-agent', 'orders', 'delete_order')).body.verdict).toBe('allow');
    const t0 = Date.now();
    expect((await putPerson('en-prop', { tools: ['orders/read_order'] })).status).toBe(200);
    const out = await until(
      () => authorize(b, 'en-prop', 'en-prop-agent', 'orders', 'delete_order'),
      (r) => r.body?.verdict === 'deny',
      t0,
    );
    console.log(`entitlement change propagation to instance B (ms): ${out.elapsed}`);
    expect(out.res.body).toMatchObject({ verdict: 'deny', reasons: ['not_entitled'] });
    expect(out.elapsed).toBeLessThan(1000);
  });
});
