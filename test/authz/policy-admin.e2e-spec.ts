import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken } from '../support/keys';

const PERMIT_ALL_GRANTED = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';
const FORBID_PAYMENTS = '@reason("payments_frozen") forbid (principal, action == Action::"call_tool", resource) when { context.server == "payments" };';

describe('policy sets: publish, activate, roll back, simulate', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  let agent: string;

  beforeAll(async () => {
    env = await testEnvironment();
    a = await env.start();
    b = await env.start();
    admin = await adminToken('acme', 'countersign:admin countersign:delegations');
    gateway = await tenantToken();
    agent = await agentToken({ actors: ['pay-agent'] });
    const granted = await call(a.url, 'POST', '/v1/delegations', {
      token: admin,
      body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*', 'crm/*'] },
    });
    expect(granted.status).toBe(201);
  });
  afterAll(() => env.teardown());

  const smallPayment = (app: TestApp, session = `s-${Math.random()}`) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 10 } },
        correlation: { mcp_session_id: session },
      },
    });

  it('publishing a set that does not validate is 400 invalid_policy with the validator messages, and nothing changes', async () => {
    for (const policies of [
      { syntax: 'permit (principal, action, resource' },
      { undefined_attribute: 'permit (principal, action == Action::"call_tool", resource) when { context.no_such_fact };' },
      { bad_annotation: `@obligation("human_approval") ${PERMIT_ALL_GRANTED}` },
    ]) {
      const res = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate: true } });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_policy');
      expect(res.body.errors.join(' ')).toContain(Object.keys(policies)[0]);
    }
    const list = await call(a.url, 'GET', '/v1/policies', { token: admin });
    expect(list.body).toEqual({ active_version: 0, versions: [] });
    expect((await smallPayment(a)).status).toBe(200);
  });

  it('a published version is in force only once activated, on every instance within a second, and rolls back', async () => {
    const v1 = await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: { policies: { all: PERMIT_ALL_GRANTED, freeze: FORBID_PAYMENTS }, description: 'freeze payments' },
    });
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ version: 1, active: false });
    expect((await smallPayment(b)).status).toBe(200);

    expect((await smallPayment(b)).status).toBe(200); // B has the starter set cached
    const activated = await call(a.url, 'POST', '/v1/policies/1/activate', { token: admin });
    expect(activated.body).toEqual({ version: 1, previous: 0 });
    const t0 = Date.now();
    let denied;
    for (;;) {
      denied = await smallPayment(b);
      if (denied.status === 403 || Date.now() - t0 > 3000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(denied.body).toMatchObject({ verdict: 'deny', reasons: ['payments_frozen'], policy: { version: 1 } });

    const v2 = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: { all: PERMIT_ALL_GRANTED }, activate: true } });
    expect(v2.body).toMatchObject({ version: 2, active: true });
    expect((await smallPayment(a)).body).toMatchObject({ verdict: 'allow', policy: { version: 2 } });

    const rollback = await call(a.url, 'POST', '/v1/policies/1/activate', { token: admin });
    expect(rollback.body).toEqual({ version: 1, previous: 2 });
    expect((await smallPayment(a)).status).toBe(403);

    const list = await call(a.url, 'GET', '/v1/policies', { token: admin });
    expect(list.body.active_version).toBe(1);
    expect(list.body.versions.map((v: { version: number; active: boolean }) => [v.version, v.active])).toEqual([
      [2, false],
      [1, true],
    ]);
    const events = await sql(env.db.url, `SELECT type, data FROM audit_events WHERE type LIKE 'policy.%' ORDER BY id`);
    expect(events.map((e) => e.type)).toEqual(['policy.published', 'policy.activated', 'policy.published', 'policy.activated', 'policy.activated']);
  });

  it('activating a version that was never published is 400 naming version, and the active one stays', async () => {
    const res = await call(a.url, 'POST', '/v1/policies/99/activate', { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('version');
    expect((await call(a.url, 'GET', '/v1/policies', { token: admin })).body.active_version).toBe(1);
  });

  it('published versions are immutable: the database refuses to change or delete them', async () => {
    await expect(sql(env.db.url, `UPDATE policy_sets SET policies = '{}' WHERE version = 1`)).rejects.toThrow(/immutable/);
    await expect(sql(env.db.url, `DELETE FROM policy_sets WHERE version = 1`)).rejects.toThrow(/cannot be deleted/);
  });

  it('tool_categories re-map a tool: "crm/sync_contacts" as a read is allowed where the name alone says export', async () => {
    const body = { agent: { token: agent }, action: { server: 'crm', tool: 'sync_contacts', arguments: {} }, reason: 'r' };
    await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: {
        policies: {
          all: PERMIT_ALL_GRANTED,
          no_exports: '@reason("no_exports") forbid (principal, action == Action::"call_tool", resource) when { context.action_category == "export" };',
        },
        activate: true,
      },
    });
    expect((await call(a.url, 'POST', '/v1/authorize', { token: gateway, body })).body.reasons).toContain('no_exports');
    await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: {
        policies: {
          all: PERMIT_ALL_GRANTED,
          no_exports: '@reason("no_exports") forbid (principal, action == Action::"call_tool", resource) when { context.action_category == "export" };',
        },
        tool_categories: { 'crm/sync_contacts': 'read' },
        activate: true,
      },
    });
    const res = await call(a.url, 'POST', '/v1/authorize', { token: gateway, body });
    expect(res.status).toBe(200);
  });

  it('simulate answers what-if with the determining policies and writes nothing', async () => {
    const count = async () =>
      (await sql(env.db.url, `SELECT (SELECT count(*) FROM audit_events)::int AS a, (SELECT count(*) FROM approval_requests)::int AS r`))[0];
    const before = await count();
    const res = await call(a.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: {
        agent: { token: agent },
        action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 5 } },
        correlation: { mcp_session_id: 'sim' },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      verdict: 'allow',
      determining_policies: ['all'],
      facts: expect.objectContaining({ action_category: 'pay', session_calls: 1 }),
    });
    const again = await call(a.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: { agent: { token: agent }, action: { server: 'payments', tool: 'transfer_funds', arguments: {} }, correlation: { mcp_session_id: 'sim' } },
    });
    expect(again.body.facts.session_calls).toBe(1); // simulations do not count toward velocity
    expect(await count()).toEqual(before);
  });

  it('policy endpoints need the admin scope (403 insufficient_scope) and see only their own tenant', async () => {
    for (const [method, path] of [
      ['GET', '/v1/policies'],
      ['POST', '/v1/policies'],
      ['POST', '/v1/authorize/simulate'],
      ['POST', '/v1/policies/1/activate'],
    ]) {
      const res = await call(a.url, method, path, { token: gateway, ...(method === 'GET' ? {} : { body: {} }) });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.headers.get('www-authenticate')).toContain('insufficient_scope');
    }
    const other = await adminToken('globex');
    expect((await call(a.url, 'GET', '/v1/policies', { token: other })).body).toEqual({ active_version: 0, versions: [] });
    expect((await call(a.url, 'POST', '/v1/policies/1/activate', { token: other })).status).toBe(400);
  });
});
