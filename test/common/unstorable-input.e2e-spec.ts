/**
 * Values Postgres refuses to store (a NUL, an unpaired UTF-16 surrogate, a number that JSON.parse
 * reads as Infinity) are refused as input: a 400 with the API's error shape naming the member,
 * with nothing written. Before, each reached the database and came back as a 500.
 */
import { Client } from 'pg';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { ApiResponse, call, parkBody } from '../support/api';
import { parkApproval } from '../support/approvals';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';

type Json = Record<string, any>;
type Who = 'gateway' | 'admin' | 'approver';

/** JSON text for a body; the string INF anywhere in it is written as the number 1e309, -INF as -1e309. */
const INF = '__INF__';
const NEG_INF = '__-INF__';
const jsonText = (body: unknown) => JSON.stringify(body).replaceAll(`"${INF}"`, '1e309').replaceAll(`"${NEG_INF}"`, '-1e309');

/** A copy of `base` with the value at a dotted path replaced. */
function withField(base: Json, path: string, value: unknown): Json {
  const body = structuredClone(base);
  const keys = path.split('.');
  let node = body;
  for (const k of keys.slice(0, -1)) node = node[k] ??= {};
  node[keys.at(-1)!] = value;
  return body;
}

const NUL = 'a\u0000b';
const HIGH = 'a\ud800b';
const LOW = '\udc00b';
const TABLES = [
  'approval_requests',
  'approval_votes',
  'audit_events',
  'delegations',
  'approvers',
  'approver_groups',
  'approver_group_members',
  'policy_sets',
  'active_policy_sets',
  'ciba_clients',
  'push_subscriptions',
  'notification_deliveries',
  'callback_attempts',
];

describe('values Postgres cannot store are 400s naming the member, and nothing is written', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let db: Client;
  const tokens = {} as Record<Who, string>;
  let agent: string;
  let approvalId: string;
  let clientSecret: string;

  const counts = async () => {
    const r = await db.query(`SELECT ${TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`);
    return r.rows[0] as Record<string, number>;
  };

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    db = new Client({ connectionString: env.db.url });
    await db.connect();
    tokens.gateway = await gatewayToken({ tenant: 'acme', sub: 'gateway-1' });
    tokens.admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations countersign:audit' });
    agent = await agentToken({ human: 'alice', actors: ['doc-agent'] });
    expect(
      (await call(api.url, 'POST', '/v1/delegations', { token: tokens.admin, body: { human: 'alice', agent: 'doc-agent', tools: ['docs/*'] } })).status,
    ).toBe(201);
    approvalId = await parkApproval(api, tokens.gateway);
    tokens.approver = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId, approverId: 'bob' })).token;
    const client = await call(api.url, 'PUT', '/v1/ciba-clients/gw-post', {
      token: tokens.admin,
      body: { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_post' },
    });
    expect(client.status).toBe(201);
    clientSecret = client.body.client_secret;
  });
  afterAll(async () => {
    await db?.end();
    await env?.teardown();
  });

  /** Sends the request, then checks the 400, its error shape, the member it names and that no table changed. */
  async function expectRefused(send: () => Promise<ApiResponse>, field: string, code: string) {
    const before = await counts();
    const res = await send();
    expect({ status: res.status, error: res.body?.error, field: res.body?.field }).toEqual({ status: 400, error: code, field });
    expect(res.body.error_description).toEqual(expect.stringContaining(`${field}: `));
    expect(res.body.errors).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
    expect(await counts()).toEqual(before);
  }

  describe('JSON bodies', () => {
    const envelope = (): Json => ({
      agent: { token: agent },
      action: { server: 'docs', tool: 'read_document', method: 'tools/call', arguments: { id: 'd1' } },
      intent: { text: 'read the design doc', category: 'read' },
      resource: { id: 'd1', type: 'document', classification: 'internal' },
      reason: 'the user asked for it',
      risk: { signals: ['known_device'], network: 'corporate' },
    });
    const delegation = (): Json => ({ human: 'alice', agent: 'mail-agent', tools: ['mail/*'], resources: ['mailbox:alice'], purpose: 'triage mail' });
    const policySet = (): Json => ({
      policies: { p1: 'permit(principal, action, resource);' },
      tool_categories: { 'docs/read_document': 'read' },
      description: 'baseline',
    });
    const cibaClient = (): Json => ({ client_name: 'Gateway', backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic' });
    const pushSubscription = (): Json => ({
      endpoint: 'https://fcm.googleapis.com/fcm/send/abc',
      expirationTime: null,
      keys: { p256dh: Buffer.alloc(65, 4).toString('base64url'), auth: Buffer.alloc(16, 1).toString('base64url') },
    });

    // [what, method, path, who, body, field named, code]: every row complete (jest.each passes `done` in a missing column).
    const cases: [string, string, () => string, Who, () => Json, string, string][] = [];
    const park = (what: string, path: string, value: unknown, field = path, code = 'invalid_request') =>
      cases.push([`park: ${what}`, 'POST', () => '/v1/approvals', 'gateway', () => withField(parkBody(), path, value), field, code]);
    park('a NUL in a tool argument', 'tool_call.arguments.note', NUL);
    park('an unpaired high surrogate in a tool argument', 'tool_call.arguments.note', HIGH);
    park('an unpaired low surrogate in a tool argument', 'tool_call.arguments.note', LOW);
    park('1e309 in a tool argument', 'tool_call.arguments.amount', INF);
    park('-1e309 in a tool argument', 'tool_call.arguments.amount', NEG_INF);
    park('a NUL deep in a tool argument', 'tool_call.arguments.lines', [{ sku: 'ok' }, { sku: NUL }], 'tool_call.arguments.lines.1.sku');
    park('1e309 deep in a tool argument', 'tool_call.arguments.lines', [[1, INF]], 'tool_call.arguments.lines.0.1');
    park('a NUL in a tool argument name', 'tool_call.arguments', { 'no\u0000te': 1 }, 'tool_call.arguments.no\\u0000te');
    park('an unpaired surrogate in a tool argument name', 'tool_call.arguments', { ok: 1, '\ud800': 1 }, 'tool_call.arguments.\\ud800');
    park('a NUL in risk', 'risk.note', NUL);
    park('1e309 in risk', 'risk.score', INF);
    park('an unpaired surrogate in a risk member name', 'risk', { ['x\udc00']: true }, 'risk.x\\udc00');
    park('a NUL in an agent claim', 'agent.claims.vc', { name: NUL }, 'agent.claims.vc.name');
    park('an unpaired surrogate in an agent claim name', 'agent.claims', { ['\ud800x']: 1 }, 'agent.claims.\\ud800x');
    park('1e309 in an agent claim', 'agent.claims.iat', INF);
    park('an unpaired surrogate in an actor', 'agent.claims.act.sub', HIGH);
    park('an unpaired surrogate in agent.id', 'agent.id', HIGH);
    park('an unpaired surrogate in delegator.display_name', 'delegator.display_name', LOW);
    park('an unpaired surrogate in reason', 'reason', HIGH);
    park('an unpaired surrogate in intent.text', 'intent.text', HIGH);
    park('an unpaired surrogate in resource.id', 'resource.id', LOW);
    park('an unpaired surrogate in correlation.request_id', 'correlation.request_id', HIGH);
    park('an unpaired surrogate in the binding message', 'obligation.binding_message', HIGH, 'obligation.binding_message', 'invalid_binding_message');

    const authorize = (what: string, path: string, value: unknown, field = path) =>
      cases.push([`authorize: ${what}`, 'POST', () => '/v1/authorize', 'gateway', () => withField(envelope(), path, value), field, 'invalid_request']);
    authorize('a NUL in a tool argument', 'action.arguments.note', NUL);
    authorize('an unpaired surrogate in a tool argument', 'action.arguments.note', HIGH);
    authorize('1e309 in a tool argument', 'action.arguments.id', INF);
    authorize('-1e309 in a tool argument', 'action.arguments.id', NEG_INF);
    authorize('a NUL in a tool argument name', 'action.arguments', { ['a\u0000']: 1 }, 'action.arguments.a\\u0000');
    authorize('an unpaired surrogate in reason', 'reason', LOW);
    authorize('an unpaired surrogate in intent.text', 'intent.text', HIGH);
    authorize('an unpaired surrogate in risk.network', 'risk.network', HIGH);
    authorize('an unpaired surrogate in correlation.mcp_session_id', 'correlation.mcp_session_id', LOW);

    const grant = (what: string, path: string, value: unknown, field = path) =>
      cases.push([`delegation: ${what}`, 'POST', () => '/v1/delegations', 'admin', () => withField(delegation(), path, value), field, 'invalid_request']);
    grant('a NUL in human', 'human', NUL);
    grant('an unpaired surrogate in agent', 'agent', HIGH);
    grant('a NUL in purpose', 'purpose', NUL);
    grant('an unpaired surrogate in purpose', 'purpose', LOW);
    grant('a NUL in a resource', 'resources', ['ok', NUL], 'resources.1');
    grant('a NUL in a tool pattern', 'tools', ['mail/\u0000'], 'tools.0');
    grant('a NUL in parent_id', 'parent_id', NUL);

    cases.push([
      'approver: an unpaired surrogate in display_name',
      'PUT',
      () => '/v1/approvers/zed',
      'admin',
      () => ({ display_name: HIGH }),
      'display_name',
      'invalid_request',
    ]);
    cases.push([
      'approver: a NUL in email',
      'PUT',
      () => '/v1/approvers/zed',
      'admin',
      () => ({ display_name: 'Zed', email: 'zed\u0000@acme.example' }),
      'email',
      'invalid_request',
    ]);
    cases.push([
      'group: an unpaired surrogate in display_name',
      'PUT',
      () => '/v1/approver-groups/ops',
      'admin',
      () => ({ display_name: LOW, members: ['bob'] }),
      'display_name',
      'invalid_request',
    ]);

    const publish = (what: string, path: string, value: unknown, field = path) =>
      cases.push([`policy set: ${what}`, 'POST', () => '/v1/policies', 'admin', () => withField(policySet(), path, value), field, 'invalid_request']);
    publish('a NUL in description', 'description', NUL);
    publish('an unpaired surrogate in description', 'description', HIGH);
    publish('a NUL in a policy', 'policies.p1', 'permit(principal, action, resource); // \u0000');
    publish('an unpaired surrogate in a policy', 'policies.p1', 'permit(principal, action, resource); // \ud800');
    publish('a NUL in a tool category name', 'tool_categories', { ['docs/\u0000']: 'read' }, 'tool_categories.docs/\\u0000');

    const client = (what: string, path: string, value: unknown, field = path) =>
      cases.push([
        `CIBA client: ${what}`,
        'PUT',
        () => '/v1/ciba-clients/gw-new',
        'admin',
        () => withField(cibaClient(), path, value),
        field,
        'invalid_request',
      ]);
    client('an unpaired surrogate in client_name', 'client_name', HIGH);
    client('a NUL in the notification endpoint', 'backchannel_client_notification_endpoint', 'http://127.0.0.1:9/\u0000');

    cases.push([
      'vote: a NUL in reason',
      'POST',
      () => `/v1/approvals/${approvalId}/decisions`,
      'approver',
      () => ({ decision: 'approve', reason: NUL }),
      'reason',
      'invalid_request',
    ]);
    cases.push([
      'vote: an unpaired surrogate in reason',
      'POST',
      () => `/v1/approvals/${approvalId}/decisions`,
      'approver',
      () => ({ decision: 'deny', reason: HIGH }),
      'reason',
      'invalid_request',
    ]);
    cases.push([
      'push subscription: a NUL in endpoint',
      'POST',
      () => '/v1/push-subscriptions',
      'approver',
      () => withField(pushSubscription(), 'endpoint', 'https://fcm.googleapis.com/fcm/send/\u0000'),
      'endpoint',
      'invalid_request',
    ]);
    cases.push([
      'push subscription: 1e309 in expirationTime',
      'POST',
      () => '/v1/push-subscriptions',
      'approver',
      () => withField(pushSubscription(), 'expirationTime', INF),
      'expirationTime',
      'invalid_request',
    ]);

    it.each(cases)('%s', async (_, method, path, who, body, field, code) => {
      await expectRefused(() => call(api.url, method, path(), { token: tokens[who], rawBody: jsonText(body()) }), field, code);
    });

    it('the bodies the rows start from are accepted, so each row fails for its one member alone', async () => {
      const accepted = [
        await call(api.url, 'POST', '/v1/approvals', { token: tokens.gateway, body: withField(parkBody(), 'tool_call.arguments.note', 'ok \ud83d\ude00 ü') }),
        await call(api.url, 'POST', '/v1/authorize', { token: tokens.gateway, body: envelope() }),
        await call(api.url, 'POST', '/v1/delegations', { token: tokens.admin, body: delegation() }),
        await call(api.url, 'PUT', '/v1/approvers/zed', { token: tokens.admin, body: { display_name: 'Zed \ud83d\ude00', email: 'zed@acme.example' } }),
        await call(api.url, 'PUT', '/v1/approver-groups/ops', { token: tokens.admin, body: { display_name: 'Ops', members: ['bob'] } }),
        await call(api.url, 'POST', '/v1/policies', { token: tokens.admin, body: policySet() }),
        await call(api.url, 'PUT', '/v1/ciba-clients/gw-new', { token: tokens.admin, body: cibaClient() }),
      ];
      expect(accepted.map((r) => r.status)).toEqual([200, 200, 201, 201, 201, 201, 201]);
    });
  });

  describe('form-encoded CIBA requests', () => {
    const detail = (overrides: Json = {}): Json => ({
      type: 'tool_call',
      server: 'payments-mcp',
      tool: 'transfer_funds',
      arguments: { amount: 25000, currency: 'EUR' },
      reason: 'Invoice INV-2026-0042 is due today',
      ...overrides,
    });
    const backchannel = (params: Record<string, string>) =>
      call(api.url, 'POST', '/oauth/bc-authorize', {
        rawBody: new URLSearchParams({
          client_id: 'gw-post',
          client_secret: clientSecret,
          scope: 'openid',
          login_hint: 'bob',
          authorization_details: JSON.stringify([detail()]),
          ...params,
        }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    const details = (overrides: Json) => ({ authorization_details: jsonText([detail(overrides)]) });

    const cases: [string, Record<string, string>, string, string][] = [
      ['a NUL in scope', { scope: 'openid \u0000' }, 'scope', 'invalid_request'],
      ['a NUL in the binding message', { binding_message: NUL }, 'binding_message', 'invalid_binding_message'],
      ['a NUL in a tool argument', details({ arguments: { note: NUL } }), 'authorization_details[0].arguments.note', 'invalid_authorization_details'],
      [
        'an unpaired surrogate in a tool argument',
        details({ arguments: { note: HIGH } }),
        'authorization_details[0].arguments.note',
        'invalid_authorization_details',
      ],
      ['1e309 in a tool argument', details({ arguments: { amount: INF } }), 'authorization_details[0].arguments.amount', 'invalid_authorization_details'],
      [
        'a NUL in a tool argument name',
        details({ arguments: { ['a\u0000']: 1 } }),
        'authorization_details[0].arguments.a\\u0000',
        'invalid_authorization_details',
      ],
      ['an unpaired surrogate in reason', details({ reason: LOW }), 'authorization_details[0].reason', 'invalid_authorization_details'],
      ['1e309 in risk', details({ risk: { score: INF } }), 'authorization_details[0].risk.score', 'invalid_authorization_details'],
      [
        'an unpaired surrogate in an RFC 9396 identifier',
        details({ identifier: HIGH }),
        'authorization_details[0].identifier',
        'invalid_authorization_details',
      ],
    ];
    it.each(cases)('backchannel authentication: %s', async (_, params, field, code) => {
      await expectRefused(() => backchannel(params), field, code);
    });

    it('the request the rows start from is accepted', async () => {
      expect((await backchannel({})).status).toBe(200);
    });

    it('a NUL in the auth_req_id of a token request is a 400 naming it', async () => {
      const res = await call(api.url, 'POST', '/oauth/token', {
        rawBody: new URLSearchParams({
          client_id: 'gw-post',
          client_secret: clientSecret,
          grant_type: 'urn:openid:params:grant-type:ciba',
          auth_req_id: `x\u0000`,
        }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'auth_req_id' } });
    });
  });

  describe("the approval page's form", () => {
    // A form cannot carry an unpaired surrogate (percent-encoding is UTF-8): a NUL is what gets through.
    it('a NUL in the reason is a 400 page naming the reason, and no vote is recorded', async () => {
      const reason = NUL;
      const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId, approverId: 'carol' });
      const page = await (await fetch(`${api.url}/approve/${approvalId}?link=${token}`)).text();
      const csrf = /<input type="hidden" name="csrf" value="([^"]*)">/.exec(page)![1];
      const before = await counts();
      const res = await fetch(`${api.url}/approve/${approvalId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: api.url, 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ link: token, csrf, decision: 'approve', reason }).toString(),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('the reason must not contain a NUL character or an unpaired surrogate');
      expect(await counts()).toEqual(before);
    });
  });

  describe('path parameters and query strings', () => {
    // Each reaches SQL, some without a schema (an id looked up as it is): a 400 naming the parameter, never a 500.
    const cases: [string, string, Who, string][] = [
      ['GET', `/v1/approvals/%00`, 'gateway', 'id'],
      ['POST', `/v1/approvals/x%00y/token`, 'gateway', 'id'],
      ['DELETE', `/v1/approvals/%00`, 'gateway', 'id'],
      ['GET', `/v1/delegations?human=%00`, 'admin', 'human'],
      ['DELETE', `/v1/delegations/%00`, 'admin', 'id'],
      ['GET', `/v1/approvers/%00`, 'admin', 'id'],
      ['DELETE', `/v1/approvers/a%00`, 'admin', 'id'],
      ['GET', `/v1/approvers?after=%00`, 'admin', 'after'],
      ['GET', `/v1/approver-groups/%00`, 'admin', 'name'],
      ['GET', `/v1/ciba-clients/%00`, 'admin', 'client_id'],
      ['POST', `/v1/ciba-clients/gw%00/secret`, 'admin', 'client_id'],
      ['GET', `/v1/ciba-clients?after=%00`, 'admin', 'after'],
      ['GET', `/v1/policies/1%00`, 'admin', 'version'],
      ['GET', `/v1/audit?human=%00`, 'admin', 'human'],
      ['GET', `/v1/audit?approval_id=a%00`, 'admin', 'approval_id'],
      ['DELETE', `/v1/push-subscriptions/%00`, 'approver', 'id'],
    ];
    it.each(cases)('%s %s', async (method, path, who, field) => {
      await expectRefused(() => call(api.url, method, path, { token: tokens[who] }), field, 'invalid_request');
    });

    it('a percent-encoding that is not UTF-8 (an encoded surrogate, a cut sequence) is never a 5xx', async () => {
      for (const bad of ['%ED%A0%80', '%E0%A4', '%FF']) {
        for (const [method, path, who] of [
          ['DELETE', `/v1/delegations/${bad}`, 'admin'],
          ['GET', `/v1/delegations?human=${bad}`, 'admin'],
          ['GET', `/v1/approvals/${bad}`, 'gateway'],
          ['GET', `/v1/approvers/${bad}`, 'admin'],
          ['GET', `/approve/${bad}?link=${bad}`, 'gateway'],
        ] as const) {
          const res = await call(api.url, method, path, { token: tokens[who] });
          expect({ path, status: res.status < 500 }).toEqual({ path, status: true });
        }
      }
    });

    it("a NUL in the approval page's id or link is a 400 naming it", async () => {
      for (const [path, field] of [
        [`/approve/%00?link=x`, 'id'],
        [`/approve/${approvalId}?link=%00`, 'link'],
      ]) {
        await expectRefused(() => call(api.url, 'GET', path), field, 'invalid_request');
      }
    });
  });
});
