import fc from 'fast-check';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

describe('POST /v1/authorize input', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let agent: string;
  const valid = () => ({ agent: { token: agent }, action: { server: 'docs', tool: 'read_document', arguments: { id: 'd1' } }, intent: { category: 'read' } });
  const decisions = async () => (await sql(env.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE type = 'authz.decision'`))[0].n;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken();
    agent = await agentToken({ actors: ['doc-agent'] });
    const admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    expect((await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: 'alice', agent: 'doc-agent', tools: ['docs/*'] } })).status).toBe(
      201,
    );
  });
  afterAll(() => env.teardown());

  const bad: [string, (b: any) => unknown, string, string?][] = [
    ['agent is missing', (b) => ({ ...b, agent: undefined }), 'agent'],
    ['agent.token is empty', (b) => ({ ...b, agent: { token: '' } }), 'agent.token'],
    ['agent.token is not a string', (b) => ({ ...b, agent: { token: 42 } }), 'agent.token'],
    ['action.server is missing', (b) => ({ ...b, action: { tool: 't', arguments: {} } }), 'action.server'],
    ['action.tool is missing', (b) => ({ ...b, action: { server: 's', arguments: {} } }), 'action.tool'],
    ['action.arguments is not an object', (b) => ({ ...b, action: { ...b.action, arguments: [1, 2] } }), 'action.arguments'],
    ['intent.category is not in the vocabulary', (b) => ({ ...b, intent: { category: 'hack' } }), 'intent.category'],
    ['resource.classification is unknown', (b) => ({ ...b, resource: { classification: 'secret-ish' } }), 'resource.classification'],
    ['environment is unknown', (b) => ({ ...b, environment: 'moon' }), 'environment'],
    ['risk.signals are not lower-case identifiers', (b) => ({ ...b, risk: { signals: ['New Device!'] } }), 'risk.signals.0'],
    ['reason is longer than 2000 characters', (b) => ({ ...b, reason: 'x'.repeat(2001) }), 'reason'],
    ['an unknown top-level field', (b) => ({ ...b, shadow_admin: true }), 'shadow_admin'],
    [
      'delivery.notification_token breaks the bearer syntax',
      (b) => ({ ...b, delivery: { mode: 'ping', notification_endpoint: 'http://127.0.0.1:1/cb', notification_token: 'no spaces' } }),
      'delivery.notification_token',
      'invalid_client_notification_token',
    ],
  ];

  it.each(bad)('%s → 400 naming the field, and no decision is recorded', async (_name, mutate, field, code = 'invalid_request') => {
    const before = await decisions();
    const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: mutate(valid()) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: code, field });
    expect(await decisions()).toBe(before);
  });

  it('a body that is not JSON is 400 invalid_request', async () => {
    const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, rawBody: '{"agent": ' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('without a gateway token the answer is 401 and nothing is evaluated', async () => {
    const before = await decisions();
    const res = await call(api.url, 'POST', '/v1/authorize', { body: valid() });
    expect(res.status).toBe(401);
    expect(await decisions()).toBe(before);
  });

  it('the valid baseline is allowed (so the rows above fail for their field alone)', async () => {
    expect((await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: valid() })).status).toBe(200);
  });

  it('random envelopes never produce a server error', async () => {
    const anyJson = fc.jsonValue({ maxDepth: 3 });
    const envelope = fc.record(
      {
        agent: fc.oneof(fc.constant({ token: agent }), fc.record({ token: fc.string() }), anyJson),
        action: fc.oneof(
          fc.record({
            server: fc.string({ minLength: 1, maxLength: 30 }),
            tool: fc.string({ minLength: 1, maxLength: 30 }),
            arguments: fc.dictionary(fc.string(), anyJson, { maxKeys: 4 }),
          }),
          anyJson,
        ),
        intent: fc.oneof(fc.record({ category: fc.constantFrom('read', 'export', 'pay', 'admin'), text: fc.string() }), anyJson),
        resource: fc.oneof(fc.record({ id: fc.string({ minLength: 1 }), classification: fc.constantFrom('public', 'confidential', 'pii') }), anyJson),
        environment: fc.oneof(fc.constantFrom('dev', 'staging', 'production'), anyJson),
        reason: fc.oneof(fc.string({ minLength: 1, maxLength: 50 }), anyJson),
        risk: fc.oneof(fc.record({ signals: fc.array(fc.constantFrom('new_device', 'bulk', 'malware_suspected')) }), anyJson),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(envelope, async (body) => {
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body });
        expect([200, 202, 400, 403]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
  });

  it('deny by default: unknown tools on servers the agent holds no delegation for are always denied', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-z_]{1,20}$/), fc.stringMatching(/^[a-z]{3,12}$/), async (tool, server) => {
        fc.pre(server !== 'docs');
        const res = await call(api.url, 'POST', '/v1/authorize', {
          token: gateway,
          body: { agent: { token: agent }, action: { server, tool, arguments: {} }, reason: 'r' },
        });
        expect(res.status).toBe(403);
        expect(res.body.verdict).toBe('deny');
      }),
      { numRuns: 60 },
    );
  });
});
