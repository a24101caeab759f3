/**
 * POST /v1/authorize/tools (real HTTP, Postgres, Redis): which tools an agent could ever be allowed
 * to call. A tool is `always_denied` only when a rule that holds whatever the policy says denies
 * every call of it — outside every delegation of the chain on any resource, outside the human's
 * entitlements, outside the tenant's catalogue, a disabled human, a token that is not valid — and
 * /v1/authorize then denies a call of it for the same reason. The policy set's own rules are not
 * guessed: a tool they forbid is still reported as possible.
 */
import { call, adminToken, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const POLICIES = {
  'allow-granted': 'permit (principal, action, resource) when { context.granted };',
  'no-refunds': 'forbid (principal, action, resource) when { context.tool == "refund" };',
};
const TOOLS = [
  { server: 'files', tool: 'read_file' },
  { server: 'files', tool: 'delete_file' },
  { server: 'payments', tool: 'refund' },
  { server: 'crm', tool: 'export' },
];

describe('POST /v1/authorize/tools: the tools an agent could ever be allowed to call', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let admin: string;

  const ask = async (token: string, tools = TOOLS) => call(api.url, 'POST', '/v1/authorize/tools', { token: gateway, body: { agent: { token }, tools } });
  const denied = (body: { tools: { server: string; tool: string; always_denied: boolean; reasons: string[] }[] }) =>
    Object.fromEntries(body.tools.map((t) => [`${t.server}/${t.tool}`, t.always_denied ? t.reasons : 'possible']));
  const grant = async (human: string, agent: string, tools: string[], resources?: string[], parentId?: string): Promise<string> => {
    const res = await call(api.url, 'POST', '/v1/delegations', {
      token: await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' }),
      body: { human, agent, tools, ...(resources ? { resources } : {}), ...(parentId ? { parent_id: parentId } : {}) },
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const authorize = async (token: string, server: string, tool: string) =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: { agent: { token }, action: { server, tool, arguments: {} }, correlation: { mcp_session_id: 'tools-test' } },
    });

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken('acme', 'gateway-tools');
    admin = await adminToken();
    expect((await call(api.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true } })).status).toBe(201);
    await grant('alice', 'tools-agent', ['files/read_file', 'payments/*'], ['acct-*', '/reports/*']);
  });
  afterAll(async () => {
    await env.teardown();
  });

  it('outside every delegation is always denied (not_delegated); a tool delegated on some resources, or one the policy forbids, is possible', async () => {
    const token = await agentToken({ human: 'alice', actors: ['tools-agent'] });
    const res = await ask(token);
    expect(res.status).toBe(200);
    expect(denied(res.body)).toEqual({
      'files/read_file': 'possible',
      'files/delete_file': ['not_delegated'],
      'payments/refund': 'possible',
      'crm/export': ['not_delegated'],
    });
    // /v1/authorize agrees where the answer is "always": any call of the tool is denied for that reason.
    const call = await authorize(token, 'files', 'delete_file');
    expect(call.status).toBe(403);
    expect(call.body.reasons).toContain('not_delegated');
  });

  it('a sub-agent holds only what every hop grants; an agent with no delegation holds nothing', async () => {
    const parent = await grant('alice', 'tools-parent', ['files/*', 'payments/*']);
    await grant('alice', 'tools-sub', ['files/read_file'], undefined, parent);
    const sub = await ask(await agentToken({ human: 'alice', actors: ['tools-sub', 'tools-parent'] }));
    // The parent holds files/* and payments/*; the sub-agent only what both hops grant.
    expect(denied(sub.body)).toEqual({
      'files/read_file': 'possible',
      'files/delete_file': ['not_delegated'],
      'payments/refund': ['not_delegated'],
      'crm/export': ['not_delegated'],
    });
    const nobody = await ask(await agentToken({ human: 'alice', actors: ['nobody-agent'] }));
    expect(new Set(nobody.body.tools.map((t: { reasons: string[] }) => t.reasons.join()))).toEqual(new Set(['no_delegation']));
  });

  it("outside the human's own entitlements is always denied (not_entitled)", async () => {
    expect(
      (await call(api.url, 'PUT', '/v1/approvers/erin', { token: admin, body: { display_name: 'Erin', entitlements: { tools: ['files/*'] } } })).status,
    ).toBeLessThan(300);
    await grant('erin', 'erin-agent', ['files/*']);
    const res = await ask(await agentToken({ human: 'erin', actors: ['erin-agent'] }));
    expect(denied(res.body)).toEqual({
      'files/read_file': 'possible',
      'files/delete_file': 'possible',
      'payments/refund': ['not_delegated', 'not_entitled'],
      'crm/export': ['not_delegated', 'not_entitled'],
    });
  });

  it('a disabled human: every tool always denied (human_disabled)', async () => {
    expect((await call(api.url, 'PUT', '/v1/approvers/dora', { token: admin, body: { display_name: 'Dora' } })).status).toBeLessThan(300);
    await grant('dora', 'dora-agent', ['*']);
    expect((await call(api.url, 'PUT', '/v1/approvers/dora', { token: admin, body: { display_name: 'Dora', status: 'disabled' } })).status).toBe(200);
    const token = await agentToken({ human: 'dora', actors: ['dora-agent'] });
    const {
      res: { body },
    } = await until(
      () => ask(token),
      (r) => r.body.tools?.every((t: { always_denied: boolean }) => t.always_denied),
    );
    expect(denied(body)).toEqual(Object.fromEntries(TOOLS.map((t) => [`${t.server}/${t.tool}`, ['human_disabled']])));
  });

  it('a token that is not valid (expired, another tenant): every tool always denied with the token reason', async () => {
    const expired = await ask(await agentToken({ human: 'alice', actors: ['tools-agent'], expiresIn: '-1m' }));
    expect(expired.body.tools.every((t: { always_denied: boolean; reasons: string[] }) => t.always_denied && /^agent_token_/.test(t.reasons[0]))).toBe(true);
    const foreign = await ask(await agentToken({ human: 'alice', actors: ['tools-agent'], tenant: 'globex' }));
    expect(foreign.body.tools[0].reasons).toEqual(['agent_token_tenant_mismatch']);
  });

  it('once the tenant has a catalogue, a tool outside it is always denied (tool_not_in_catalogue)', async () => {
    const put = await call(api.url, 'PUT', '/v1/catalogue/servers/files', {
      token: admin,
      body: { tools: [{ name: 'read_file', inputSchema: { type: 'object' } }] },
    });
    expect(put.status).toBeLessThan(300);
    const token = await agentToken({ human: 'alice', actors: ['tools-agent'] });
    const {
      res: { body },
    } = await until(
      () => ask(token),
      (r) => r.body.tools?.[2]?.always_denied === true,
    );
    expect(denied(body)).toEqual({
      'files/read_file': 'possible',
      'files/delete_file': ['not_delegated', 'tool_not_in_catalogue'],
      'payments/refund': ['tool_not_in_catalogue'],
      'crm/export': ['not_delegated', 'tool_not_in_catalogue'],
    });
  });

  it('needs a gateway token, and names the bad field of a bad request (400)', async () => {
    const token = await agentToken({ human: 'alice', actors: ['tools-agent'] });
    expect((await call(api.url, 'POST', '/v1/authorize/tools', { body: { agent: { token }, tools: TOOLS } })).status).toBe(401);
    const empty = await ask(token, []);
    expect(empty.status).toBe(400);
    expect(empty.body.field).toBe('tools');
    const missing = await call(api.url, 'POST', '/v1/authorize/tools', { token: gateway, body: { agent: { token }, tools: [{ server: 'files' }] } });
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('tools.0.tool');
    const tooMany = await ask(
      token,
      Array.from({ length: 1001 }, (_, i) => ({ server: 'files', tool: `t${i}` })),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.field).toBe('tools');
  });
});
