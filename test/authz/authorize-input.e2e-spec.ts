/**
 * POST /v1/authorize refuses a malformed envelope before evaluating anything: 400 naming the
 * offending field (dotted path), no authz.decision audit row, no session counter touched.
 * Without a valid gateway token the answer is 401.
 */
import { randomUUID } from 'node:crypto';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

type Mutation = (body: Record<string, any>) => unknown;

describe('POST /v1/authorize: malformed envelopes', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let admin: string;
  let agent: string;

  /** A valid envelope that is allowed (200): every row below breaks exactly one thing in it. */
  const valid = (): Record<string, any> => ({
    agent: { token: agent },
    action: { server: 'docs', tool: 'read_document', method: 'tools/call', arguments: { id: 'd1' } },
    intent: { id: 'task-1', text: 'read the design doc', category: 'read' },
    resource: { id: 'd1', type: 'document', classification: 'internal' },
    environment: 'production',
    reason: 'the user asked for it',
    risk: { signals: ['known_device'], network: 'corporate' },
    delivery: { mode: 'poll' },
    correlation: { mcp_session_id: `s-${randomUUID()}`, request_id: 'req-1' },
  });
  const decisions = async () => (await sql(env.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE type = 'authz.decision'`))[0].n as number;
  const authorize = (body: unknown, token: string | null = gateway) => call(api.url, 'POST', '/v1/authorize', { token, body });

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken('acme', 'gateway-1');
    admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    agent = await agentToken({ human: 'alice', actors: ['doc-agent'] });
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: 'alice', agent: 'doc-agent', tools: ['docs/*'] } });
    expect(granted.status).toBe(201);
  });
  afterAll(() => env.teardown());

  it('the valid baseline is allowed, so each row below fails for its one field alone', async () => {
    const res = await authorize(valid());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'] });
  });

  const rows: [string, Mutation, string, string?][] = [
    ['agent is missing', ({ agent: _a, ...b }) => b, 'agent'],
    ['agent is a string', (b) => ({ ...b, agent: agent }), 'agent'],
    ['agent.token is missing', (b) => ({ ...b, agent: {} }), 'agent.token'],
    ['agent.token is empty', (b) => ({ ...b, agent: { token: '' } }), 'agent.token'],
    ['agent.token is not a string', (b) => ({ ...b, agent: { token: 42 } }), 'agent.token'],
    ['agent.token is longer than 16 KiB', (b) => ({ ...b, agent: { token: 'a'.repeat(16 * 1024 + 1) } }), 'agent.token'],
    ['agent carries a self-asserted field', (b) => ({ ...b, agent: { ...b.agent, trust_level: 'first_party_certified' } }), 'agent.trust_level'],
    ['action is missing', ({ action: _a, ...b }) => b, 'action'],
    ['action.server is missing', (b) => ({ ...b, action: { tool: 'read_document', arguments: {} } }), 'action.server'],
    ['action.server is empty', (b) => ({ ...b, action: { ...b.action, server: '' } }), 'action.server'],
    ['action.server has a control character', (b) => ({ ...b, action: { ...b.action, server: 'docs\u0000' } }), 'action.server'],
    ['action.tool is missing', (b) => ({ ...b, action: { server: 'docs', arguments: {} } }), 'action.tool'],
    ['action.tool is a number', (b) => ({ ...b, action: { ...b.action, tool: 7 } }), 'action.tool'],
    ['action.arguments is an array', (b) => ({ ...b, action: { ...b.action, arguments: [1, 2] } }), 'action.arguments'],
    ['action.arguments is a string', (b) => ({ ...b, action: { ...b.action, arguments: 'id=d1' } }), 'action.arguments'],
    ['action.arguments is null', (b) => ({ ...b, action: { ...b.action, arguments: null } }), 'action.arguments'],
    ['action has an unknown field', (b) => ({ ...b, action: { ...b.action, granted: true } }), 'action.granted'],
    ['intent.category is not in the vocabulary', (b) => ({ ...b, intent: { category: 'hack' } }), 'intent.category'],
    ['intent.text is empty', (b) => ({ ...b, intent: { text: '' } }), 'intent.text'],
    ['resource.classification is unknown', (b) => ({ ...b, resource: { classification: 'top-secret' } }), 'resource.classification'],
    ['resource is a string', (b) => ({ ...b, resource: 'd1' }), 'resource'],
    ['environment is unknown', (b) => ({ ...b, environment: 'moon' }), 'environment'],
    ['environment is upper-case', (b) => ({ ...b, environment: 'PRODUCTION' }), 'environment'],
    ['risk.signals holds a non-lower-case id', (b) => ({ ...b, risk: { signals: ['ok', 'New Device!'] } }), 'risk.signals.1'],
    ['risk.signals holds an empty id', (b) => ({ ...b, risk: { signals: [''] } }), 'risk.signals.0'],
    ['risk.signals is a string', (b) => ({ ...b, risk: { signals: 'new_device' } }), 'risk.signals'],
    ['risk.signals has more than 50 ids', (b) => ({ ...b, risk: { signals: Array.from({ length: 51 }, (_, i) => `s${i}`) } }), 'risk.signals'],
    ['risk has an unknown field', (b) => ({ ...b, risk: { signals: [], score: 0 } }), 'risk.score'],
    ['reason is longer than 2000 characters', (b) => ({ ...b, reason: 'x'.repeat(2001) }), 'reason'],
    ['reason is empty', (b) => ({ ...b, reason: '' }), 'reason'],
    ['reason hides a bidi override', (b) => ({ ...b, reason: 'pay \u202Eevil' }), 'reason'],
    ['an unknown top-level field', (b) => ({ ...b, verdict: 'allow' }), 'verdict'],
    ['delivery.mode is unknown', (b) => ({ ...b, delivery: { mode: 'carrier-pigeon' } }), 'delivery.mode'],
    [
      'delivery.notification_token breaks the bearer token syntax',
      (b) => ({ ...b, delivery: { mode: 'ping', notification_endpoint: 'http://127.0.0.1:1/cb', notification_token: 'has spaces in it' } }),
      'delivery.notification_token',
      'invalid_client_notification_token',
    ],
    [
      'delivery.notification_token is empty',
      (b) => ({ ...b, delivery: { mode: 'ping', notification_endpoint: 'http://127.0.0.1:1/cb', notification_token: '' } }),
      'delivery.notification_token',
      'invalid_client_notification_token',
    ],
    ['correlation.mcp_session_id is empty', (b) => ({ ...b, correlation: { mcp_session_id: '' } }), 'correlation.mcp_session_id'],
    ['correlation has an unknown field', (b) => ({ ...b, correlation: { trace: 'x' } }), 'correlation.trace'],
  ];

  it.each(rows)('%s → 400 naming the field, and no decision is recorded', async (_name, mutate, field, code = 'invalid_request') => {
    const before = await decisions();
    const res = await authorize(mutate(valid()));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: code, field });
    expect(res.body.error_description).toContain(field);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await decisions()).toBe(before);
  });

  it('an envelope with several problems lists every one of them in errors', async () => {
    const res = await authorize({ ...valid(), environment: 'moon', intent: { category: 'hack' }, extra: 1 });
    expect(res.status).toBe(400);
    expect((res.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual(['environment', 'extra', 'intent.category']);
  });

  const notJson: [string, { rawBody: string; headers?: Record<string, string> }][] = [
    ['a truncated JSON body', { rawBody: '{"agent": ' }],
    ['a body that is not JSON at all', { rawBody: 'agent=x&action=y' }],
  ];
  it.each(notJson)('%s is 400 invalid_request, and no decision is recorded', async (_name, opts) => {
    const before = await decisions();
    const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, ...opts });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(await decisions()).toBe(before);
  });

  it('a JSON body that is not an object (array, string, number, null) is 400 invalid_request', async () => {
    const before = await decisions();
    for (const rawBody of ['[]', '"envelope"', '42', 'null']) {
      const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, rawBody });
      expect({ rawBody, status: res.status, error: res.body.error }).toEqual({ rawBody, status: 400, error: 'invalid_request' });
    }
    expect(await decisions()).toBe(before);
  });

  it('a rejected envelope does not count toward the session velocity', async () => {
    const session = `s-${randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      const bad = valid();
      bad.correlation = { mcp_session_id: session };
      bad.environment = 'moon';
      expect((await authorize(bad)).status).toBe(400);
    }
    const sim = await call(api.url, 'POST', '/v1/authorize/simulate', { token: admin, body: { ...valid(), correlation: { mcp_session_id: session } } });
    expect(sim.status).toBe(200);
    expect(sim.body.facts).toMatchObject({ session_calls: 1, prior_denials: 0 });
  });

  it('without a gateway token the answer is 401 with WWW-Authenticate, and nothing is evaluated', async () => {
    const before = await decisions();
    const cases: (string | null)[] = [
      null,
      'not-a-jwt',
      await gatewayToken({ tenant: 'acme' }, { expiresIn: '-1m' }),
      await gatewayToken({ tenant: 'acme' }, { audience: 'someone-else' }),
      // An agent's token is not a gateway's.
      await agentToken({ actors: ['doc-agent'] }),
    ];
    for (const token of cases) {
      const res = await authorize(valid(), token);
      expect({ token: token?.slice(0, 12), status: res.status, error: res.body.error }).toEqual({
        token: token?.slice(0, 12),
        status: 401,
        error: 'invalid_token',
      });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
    // Even a malformed body is answered 401 first or 400, never evaluated.
    const both = await authorize({ nonsense: true }, null);
    expect([400, 401]).toContain(both.status);
    expect(await decisions()).toBe(before);
  });
});
