/**
 * The human's directory attributes (department, cost centre, …) as the User entity's tags, end to
 * end (real HTTP, Postgres, Redis, two instances): set through the directory admin API (validated,
 * tenant-scoped), read by a policy (`context.user.getTag("department")`), and a change reaching the
 * second instance's decisions within a second.
 */
import { randomUUID } from 'node:crypto';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const POLICIES = {
  ...STARTER_POLICIES,
  'contracts-for-legal': `@reason("legal_department_only")
forbid (principal, action == Action::"call_tool", resource in Server::"contracts")
unless { context.user.hasTag("department") && context.user.getTag("department") == "legal" };`,
};

describe('directory attributes as User tags', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  const propagation: Record<string, number> = {};

  const readContract = async (app: TestApp, human: string) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: await agentToken({ human, actors: ['legal-agent'], agentClass: 'assistant' }) },
        action: { server: 'contracts', tool: 'read_contract', arguments: { id: 'k-1' } },
        intent: { category: 'read' },
        correlation: { mcp_session_id: `sess-${randomUUID()}` },
      },
    });
  const put = (app: TestApp, id: string, body: Record<string, unknown>, token = admin) => call(app.url, 'PUT', `/v1/approvers/${id}`, { token, body });

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    for (const human of ['lara', 'sven']) {
      expect((await put(a, human, { display_name: human })).status).toBe(201);
      expect((await call(a.url, 'POST', '/v1/delegations', { token: delegations, body: { human, agent: 'legal-agent', tools: ['contracts/*'] } })).status).toBe(
        201,
      );
    }
    expect(
      (await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true, description: 'contracts for legal' } })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    console.log(`attribute change propagation to instance B (ms): ${JSON.stringify(propagation)}`);
    await env.teardown();
  });

  it('are stored, answered, kept when a PUT leaves them out, and cleared by {}', async () => {
    const set = await put(a, 'lara', { display_name: 'Lara', attributes: { department: 'legal', cost_centre: 'CC-12' } });
    expect(set.status).toBe(200);
    expect(set.body.attributes).toEqual({ department: 'legal', cost_centre: 'CC-12' });
    const renamed = await put(a, 'lara', { display_name: 'Lara L.' });
    expect(renamed.body).toMatchObject({ display_name: 'Lara L.', attributes: { department: 'legal', cost_centre: 'CC-12' } });
    expect((await put(a, 'sven', { display_name: 'Sven', attributes: {} })).body.attributes).toEqual({});
    expect((await call(b.url, 'GET', '/v1/approvers/lara', { token: admin })).body.attributes).toEqual({ department: 'legal', cost_centre: 'CC-12' });
  });

  it.each([
    ['a name policies cannot write', { Department: 'legal' }, 'attributes.Department'],
    ['a value that is not a string', { department: 7 }, 'attributes.department'],
    ['a value too long', { department: 'x'.repeat(201) }, 'attributes.department'],
    ['too many', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 'v'])), 'attributes'],
    ['not an object', ['legal'], 'attributes'],
  ])('%s is a 400 naming the field, and nothing is written', async (_name, attributes, field) => {
    const res = await put(a, 'lara', { display_name: 'Broken', attributes });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(field);
    expect((await call(a.url, 'GET', '/v1/approvers/lara', { token: admin })).body).toMatchObject({
      display_name: 'Lara L.',
      attributes: { department: 'legal' },
    });
  });

  it("are the tenant's own: another tenant's person of the same id has none, and changing it leaves acme's alone", async () => {
    const other = await adminToken('globex');
    const created = await put(a, 'lara', { display_name: 'Lara (globex)', attributes: { department: 'sales' } }, other);
    expect(created.status).toBe(201);
    expect((await call(a.url, 'GET', '/v1/approvers/lara', { token: admin })).body.attributes.department).toBe('legal');
  });

  it("a policy reads them: legal reads contracts, another department is denied with the policy's reason, on either instance", async () => {
    for (const app of [a, b]) {
      expect((await readContract(app, 'lara')).body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'] });
      expect((await readContract(app, 'sven')).body).toMatchObject({ verdict: 'deny', reasons: ['legal_department_only'] });
    }
    const simulated = await call(b.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: {
        agent: { token: await agentToken({ human: 'lara', actors: ['legal-agent'], agentClass: 'assistant' }) },
        action: { server: 'contracts', tool: 'read_contract', arguments: {} },
        intent: { category: 'read' },
      },
    });
    expect(simulated.body.facts.user).toMatchObject({ status: 'active', attributes: { department: 'legal', cost_centre: 'CC-12' } });
  });

  it("a change on instance A reaches the second instance's decisions within a second", async () => {
    // Warm B's cache, so what B answers next comes from the invalidation, not a cold read.
    expect((await readContract(b, 'sven')).body.verdict).toBe('deny');
    expect((await readContract(b, 'lara')).body.verdict).toBe('allow');
    const t0 = Date.now();
    expect((await put(a, 'sven', { display_name: 'Sven', attributes: { department: 'legal' } })).status).toBe(200);
    expect((await put(a, 'lara', { display_name: 'Lara L.', attributes: { department: 'finance' } })).status).toBe(200);
    const svenIn = await until(
      () => readContract(b, 'sven'),
      (r) => r.body?.verdict === 'allow',
      t0,
    );
    const laraOut = await until(
      () => readContract(b, 'lara'),
      (r) => r.body?.verdict === 'deny',
      t0,
    );
    propagation.attributes_changed = Math.max(svenIn.elapsed, laraOut.elapsed);
    expect(laraOut.res.body.reasons).toEqual(['legal_department_only']);
    expect(propagation.attributes_changed).toBeLessThan(1000);
  });
});
