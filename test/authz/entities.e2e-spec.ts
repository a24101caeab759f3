/**
 * Policies over entities end to end (real HTTP, Postgres, Redis, two instances): the human's
 * directory groups (`context.user in Group::"hr"`), the agent's class, a third-party actor
 * upstream in the chain; and a group change made through the directory admin API reaching the
 * second instance's decisions within a second.
 */
import { randomUUID } from 'node:crypto';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const HR_POLICIES = {
  ...STARTER_POLICIES,
  'hr-data-for-hr': `@reason("hr_only")
forbid (principal, action == Action::"call_tool", resource in Server::"hr") unless { context.user in Group::"hr" };`,
  'hr-agents-only': `@reason("not_an_hr_agent")
forbid (principal, action == Action::"call_tool", resource in Server::"hr") unless { principal in AgentClass::"hr" };`,
  'no-third-party-upstream-on-hr': `@reason("third_party_upstream")
forbid (principal, action == Action::"call_tool", resource in ToolCategory::"read") when { context.chain_has_third_party && context.server == "hr" };`,
};

describe('policies over entities: groups from the directory, agent classes, upstream actors', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  const propagation: Record<string, number> = {};

  const token = (human: string, opts: Partial<Parameters<typeof agentToken>[0]> = {}) => agentToken({ human, actors: ['hr-agent'], agentClass: 'hr', ...opts });
  const readSalaries = async (app: TestApp, agent: string) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'hr', tool: 'read_salaries', arguments: { team: 'platform' } },
        intent: { category: 'read' },
        correlation: { mcp_session_id: `sess-${randomUUID()}` },
      },
    });
  const putHr = (members: string[]) => call(a.url, 'PUT', '/v1/approver-groups/hr', { token: admin, body: { display_name: 'HR', members } });

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const grant = async (body: Record<string, unknown>) => {
      const res = await call(a.url, 'POST', '/v1/delegations', { token: delegations, body });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    await grant({ human: 'bob', agent: 'hr-agent', tools: ['hr/*'] });
    await grant({ human: 'alice', agent: 'hr-agent', tools: ['hr/*'] });
    const orchestrator = await grant({ human: 'carol', agent: 'vendor-orchestrator', tools: ['hr/*'] });
    await grant({ human: 'carol', agent: 'hr-agent', tools: ['hr/*'], parent_id: orchestrator });

    expect((await putHr(['bob', 'carol'])).status).toBe(201);
    const published = await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: { policies: HR_POLICIES, activate: true, description: 'HR data for HR' },
    });
    expect(published.status).toBe(201);
  });
  afterAll(async () => {
    console.log(`directory change propagation to instance B (ms): ${JSON.stringify(propagation)}`);
    await env.teardown();
  });

  it("an HR member's HR agent reads salaries; a non-member's is denied with the policy's reason, on either instance", async () => {
    const bob = await token('bob');
    const alice = await token('alice');
    for (const app of [a, b]) {
      const allowed = await readSalaries(app, bob);
      expect(allowed.status).toBe(200);
      expect(allowed.body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'], policy: { version: 1 } });
      const denied = await readSalaries(app, alice);
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({ verdict: 'deny', reasons: ['hr_only'], determining_policies: ['hr-data-for-hr'] });
    }
  });

  it('simulation shows the human as the directory knows them: active, with their groups', async () => {
    const res = await call(b.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: { agent: { token: await token('bob') }, action: { server: 'hr', tool: 'read_salaries', arguments: {} }, intent: { category: 'read' } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      verdict: 'allow',
      facts: { user: { status: 'active', groups: ['finance', 'hr'] }, human: 'bob', operator: '', upstream: [] },
    });
  });

  it('an agent outside the HR class is denied, whoever it acts for', async () => {
    const res = await readSalaries(a, await token('bob', { agentClass: 'assistant' }));
    expect(res.status).toBe(403);
    expect(res.body.reasons).toEqual(['not_an_hr_agent']);
  });

  it('a third-party actor upstream in the chain denies the call, though the current agent is first party and the human in HR', async () => {
    const chain = ['hr-agent', 'vendor-orchestrator'];
    const vendor = await token('carol', { actors: chain, actClaims: { 'vendor-orchestrator': { agent_class: 'orchestration', trust_level: 'third_party' } } });
    const denied = await readSalaries(a, vendor);
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toEqual(['third_party_upstream']);
    const firstParty = await token('carol', {
      actors: chain,
      actClaims: { 'vendor-orchestrator': { agent_class: 'orchestration', trust_level: 'first_party' } },
    });
    const allowed = await readSalaries(a, firstParty);
    expect(allowed.body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'] });
  });

  it("a group change through the directory admin API reaches the second instance's decisions within a second", async () => {
    const bob = await token('bob');
    const alice = await token('alice');
    // Warm B's cache for both humans, so what B answers next comes from the invalidation, not a cold read.
    expect((await readSalaries(b, bob)).body.verdict).toBe('allow');
    expect((await readSalaries(b, alice)).body.verdict).toBe('deny');

    const t0 = Date.now();
    expect((await putHr(['alice'])).status).toBe(200);
    const aliceIn = await until(
      () => readSalaries(b, alice),
      (r) => r.body?.verdict === 'allow',
      t0,
    );
    const bobOut = await until(
      () => readSalaries(b, bob),
      (r) => r.body?.verdict === 'deny',
      t0,
    );
    propagation.group_replaced = Math.max(aliceIn.elapsed, bobOut.elapsed);
    expect(aliceIn.res.body).toMatchObject({ verdict: 'allow' });
    expect(bobOut.res.body).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
    expect(propagation.group_replaced).toBeLessThan(1000);
  });

  it('deleting the group denies its former members on the second instance within a second', async () => {
    const alice = await token('alice');
    expect((await readSalaries(b, alice)).body.verdict).toBe('allow');
    const t0 = Date.now();
    expect((await call(a.url, 'DELETE', '/v1/approver-groups/hr', { token: admin })).status).toBe(204);
    const out = await until(
      () => readSalaries(b, alice),
      (r) => r.body?.verdict === 'deny',
      t0,
    );
    propagation.group_deleted = out.elapsed;
    expect(out.res.body).toMatchObject({ verdict: 'deny', reasons: ['hr_only'] });
    expect(out.elapsed).toBeLessThan(1000);
  });
});
