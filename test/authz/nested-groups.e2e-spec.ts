/**
 * A group in a group, end to end (real HTTP, Postgres, Redis, two instances): "hr-comp" in "hr"
 * makes a member of hr-comp a member of hr for policies (`context.user in Group::"hr"`),
 * transitively; a group that would end up within itself is a 400 naming the member and nothing is
 * written; a nesting change reaches the second instance's decisions within a second.
 */
import { randomUUID } from 'node:crypto';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const POLICIES = {
  ...STARTER_POLICIES,
  'hr-data-for-hr': `@reason("hr_only")
forbid (principal, action == Action::"call_tool", resource in Server::"hr") unless { context.user in Group::"hr" };`,
};

describe('groups in groups', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  const propagation: Record<string, number> = {};

  const readSalaries = async (app: TestApp, human: string) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: await agentToken({ human, actors: ['hr-agent'], agentClass: 'hr' }) },
        action: { server: 'hr', tool: 'read_salaries', arguments: { team: 'platform' } },
        intent: { category: 'read' },
        correlation: { mcp_session_id: `sess-${randomUUID()}` },
      },
    });
  const putGroup = (name: string, body: Record<string, unknown>) => call(a.url, 'PUT', `/v1/approver-groups/${name}`, { token: admin, body });
  const getGroup = async (name: string) => (await call(a.url, 'GET', `/v1/approver-groups/${name}`, { token: admin })).body;

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    for (const human of ['hugo', 'hedy', 'otis']) {
      expect((await call(a.url, 'PUT', `/v1/approvers/${human}`, { token: admin, body: { display_name: human } })).status).toBe(201);
      expect((await call(a.url, 'POST', '/v1/delegations', { token: delegations, body: { human, agent: 'hr-agent', tools: ['hr/*'] } })).status).toBe(201);
    }
    expect((await putGroup('hr', { members: [] })).status).toBe(201);
    expect((await putGroup('hr-comp', { members: ['hugo'], member_of: ['hr'] })).status).toBe(201);
    expect((await putGroup('hr-comp-emea', { members: ['hedy'], member_of: ['hr-comp'] })).status).toBe(201);
    expect((await putGroup('sales', { members: ['otis'] })).status).toBe(201);
    expect((await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true, description: 'HR for HR' } })).status).toBe(
      201,
    );
  });
  afterAll(async () => {
    console.log(`nesting change propagation to instance B (ms): ${JSON.stringify(propagation)}`);
    await env.teardown();
  });

  it('a member of hr-comp (in hr) and of hr-comp-emea (in hr-comp) is in hr; a member of sales is not, on either instance', async () => {
    for (const app of [a, b]) {
      expect((await readSalaries(app, 'hugo')).body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'] });
      expect((await readSalaries(app, 'hedy')).body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'] });
      expect((await readSalaries(app, 'otis')).body).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
    }
    const simulated = await call(b.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: {
        agent: { token: await agentToken({ human: 'hedy', actors: ['hr-agent'], agentClass: 'hr' }) },
        action: { server: 'hr', tool: 'read_salaries', arguments: {} },
        intent: { category: 'read' },
      },
    });
    expect(simulated.body.facts.user.groups).toEqual(['hr', 'hr-comp', 'hr-comp-emea']);
  });

  it('the group answers the groups it is in; a PUT without member_of leaves them', async () => {
    expect(await getGroup('hr-comp')).toMatchObject({ members: ['hugo'], member_of: ['hr'] });
    expect((await putGroup('hr-comp', { display_name: 'Compensation', members: ['hugo'] })).status).toBe(200);
    expect(await getGroup('hr-comp')).toMatchObject({ display_name: 'Compensation', member_of: ['hr'] });
    const list = (await call(a.url, 'GET', '/v1/approver-groups', { token: admin })).body.groups;
    expect(list.find((g: { name: string }) => g.name === 'hr-comp-emea')).toMatchObject({ member_of: ['hr-comp'] });
  });

  it.each([
    ['itself', 'hr', ['hr'], 'member_of[0]', 'cannot be in itself'],
    ['a group within it (a cycle of two)', 'hr-comp', ['sales', 'hr-comp-emea'], 'member_of[1]', '"hr-comp-emea" is already within "hr-comp"'],
    ['a group within it at two removes (a cycle of three)', 'hr', ['hr-comp-emea'], 'member_of[0]', '"hr-comp-emea" is already within "hr"'],
    ['a group that does not exist', 'sales', ['nobody'], 'member_of[0]', 'is not an approver group'],
    ['a name that is not a group name', 'sales', ['has space'], 'member_of.0', 'must be a group name'],
  ])('placing a group in %s is a 400 naming the member, and nothing is written', async (_what, group, memberOf, field, message) => {
    const before = await getGroup(group);
    const res = await putGroup(group, { display_name: 'changed', members: [], member_of: memberOf });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field, message: expect.stringContaining(message) }]);
    expect(await getGroup(group)).toEqual(before);
  });

  it("taking hr-comp out of hr on instance A reaches the second instance's decisions within a second, for its nested members too", async () => {
    expect((await readSalaries(b, 'hedy')).body.verdict).toBe('allow');
    const t0 = Date.now();
    expect((await putGroup('hr-comp', { members: ['hugo'], member_of: [] })).status).toBe(200);
    const hedyOut = await until(
      () => readSalaries(b, 'hedy'),
      (r) => r.body?.verdict === 'deny',
      t0,
    );
    propagation.unnested = hedyOut.elapsed;
    expect(hedyOut.res.body.reasons).toEqual(['hr_only']);
    expect(hedyOut.elapsed).toBeLessThan(1000);

    const t1 = Date.now();
    expect((await putGroup('sales', { members: ['otis'], member_of: ['hr'] })).status).toBe(200);
    const otisIn = await until(
      () => readSalaries(b, 'otis'),
      (r) => r.body?.verdict === 'allow',
      t1,
    );
    propagation.nested = otisIn.elapsed;
    expect(otisIn.elapsed).toBeLessThan(1000);
  });

  it('deleting the outer group removes the nesting with it', async () => {
    expect((await call(a.url, 'DELETE', '/v1/approver-groups/hr', { token: admin })).status).toBe(204);
    expect(await getGroup('sales')).toMatchObject({ member_of: [] });
    expect((await readSalaries(a, 'otis')).body).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
  });
});
