import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { DataSource } from 'typeorm';
import { CibaRequests1764130000000 } from '../../migrations/1764130000000-ciba-requests';
import { adminToken, call } from '../support/api';
import { selfLinked, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { auditTypes, CallbackServer, eventually, requestRow, sleep, sql } from '../support/callback-server';
import { gatewayToken } from '../support/keys';

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const AUTH_REQ_ID_CLAIM = 'urn:openid:params:jwt:claim:auth_req_id';

/** The RFC 9396 detail a gateway sends for one tool call. */
function toolCallDetail(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'tool_call',
    server: 'payments-mcp',
    tool: 'transfer_funds',
    arguments: { amount: 25000, currency: 'EUR', to: 'DE89370400440532013000' },
    resource: { id: 'acct-7', type: 'bank_account', classification: 'confidential' },
    intent: { text: 'pay the quarterly invoice', category: 'pay' },
    reason: 'Invoice INV-2026-0042 is due today',
    locations: ['https://payments.acme.example/mcp'],
    ...overrides,
  };
}

/** A form POST as a hand-written client would send it (for what openid-client would never send). */
async function form(url: string, params: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) body.append(k, one);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('Standard OpenID CIBA, driven by openid-client', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let admin: string;
  let callbacks: CallbackServer;
  let metadata: Record<string, any>;
  const secrets: Record<string, string> = {};
  let clientKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let clientKid: string;

  async function register(clientId: string, body: Record<string, unknown>): Promise<void> {
    const res = await call(api.url, 'PUT', `/v1/ciba-clients/${clientId}`, { token: admin, body });
    expect(res.status).toBe(201);
    if (res.body.client_secret) secrets[clientId] = res.body.client_secret;
  }

  async function configFor(clientId: string): Promise<oidc.Configuration> {
    const auth = secrets[clientId]
      ? clientId.includes('post')
        ? oidc.ClientSecretPost(secrets[clientId])
        : oidc.ClientSecretBasic(secrets[clientId])
      : oidc.PrivateKeyJwt({ key: clientKey, kid: clientKid });
    return oidc.discovery(new URL(api.url), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  }

  async function vote(id: string, approverId: string, decision: 'approve' | 'deny', reason = `checked by ${approverId}`, viaGroup?: string) {
    const res = await voteAs(api, { approvalId: id, approverId, decision, reason, viaGroup });
    expect(res.status).toBe(200);
  }

  /** Starts a request the way a gateway would; a parameter given as undefined is left out. */
  const initiate = (config: oidc.Configuration, params: Record<string, string | undefined> = {}) =>
    oidc.initiateBackchannelAuthentication(
      config,
      Object.fromEntries(
        Object.entries({
          scope: 'openid',
          login_hint: 'bob',
          binding_message: 'Pay 25,000 EUR to ACME GmbH',
          authorization_details: JSON.stringify([toolCallDetail()]),
          ...params,
        }).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
    );

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start(await selfLinked());
    admin = await adminToken();
    callbacks = await CallbackServer.start();
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    clientKey = privateKey;
    clientKid = 'agent-sdk-key-1';
    await register('gw-basic', { client_name: 'MCP gateway', backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic' });
    await register('gw-post', { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_post' });
    await register('agent-sdk', {
      backchannel_token_delivery_mode: 'poll',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: clientKid, alg: 'ES256', use: 'sig' }] },
    });
    await register('gw-ping', {
      backchannel_token_delivery_mode: 'ping',
      backchannel_client_notification_endpoint: callbacks.on('/ciba/ping', (res) => res.writeHead(204).end()),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    await register('gw-push', {
      backchannel_token_delivery_mode: 'push',
      backchannel_client_notification_endpoint: callbacks.on('/ciba/push', (res) => res.writeHead(204).end()),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    metadata = (await call(api.url, 'GET', '/.well-known/openid-configuration')).body;
  });
  afterAll(async () => {
    await callbacks.close();
    await env.teardown();
  });

  describe('discovery', () => {
    it('serves OpenID and RFC 8414 metadata naming the CIBA endpoints, modes, RAR types and client auth methods', async () => {
      expect(metadata).toMatchObject({
        issuer: api.config.PUBLIC_URL,
        backchannel_authentication_endpoint: `${api.config.PUBLIC_URL}/oauth/bc-authorize`,
        token_endpoint: `${api.config.PUBLIC_URL}/oauth/token`,
        jwks_uri: `${api.config.PUBLIC_URL}/.well-known/jwks.json`,
        grant_types_supported: [CIBA_GRANT],
        backchannel_token_delivery_modes_supported: ['poll', 'ping', 'push'],
        backchannel_user_code_parameter_supported: false,
        authorization_details_types_supported: ['tool_call'],
        token_endpoint_auth_methods_supported: expect.arrayContaining(['private_key_jwt', 'client_secret_basic', 'client_secret_post']),
      });
      const oauth = await call(api.url, 'GET', '/.well-known/oauth-authorization-server');
      expect(oauth.status).toBe(200);
      expect(oauth.body).toEqual(metadata);
      const config = await configFor('gw-basic');
      expect(config.serverMetadata().backchannel_authentication_endpoint).toBe(metadata.backchannel_authentication_endpoint);
    });
  });

  describe('poll mode', () => {
    it('client_secret_basic: approve → access token bound to the call carrying the approved authorization_details, and an ID token for the approver', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config);
      expect(started).toMatchObject({ auth_req_id: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), expires_in: expect.any(Number), interval: 1 });
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await sleep(300);
      await vote(started.auth_req_id, 'bob', 'approve', 'Invoice checked against the PO');
      const tokens = await polling;

      // RAR round trip: what was asked is what the response and the access token carry.
      expect(tokens.authorization_details).toEqual([toolCallDetail()]);
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
      const access = await jwtVerify(tokens.access_token, jwks, { issuer: metadata.issuer, audience: 'gw-basic', typ: 'countersign-approval+jwt' });
      expect(access.payload).toMatchObject({ auth_req_id: started.auth_req_id, authorization_details: [toolCallDetail()], scope: 'openid', sub: 'bob' });
      expect(access.payload.call).toEqual({ server: 'payments-mcp', tool: 'transfer_funds' });

      // The ID token is about the approving human, for this client, tied to the request.
      const claims = tokens.claims()!;
      expect(claims).toMatchObject({ iss: metadata.issuer, sub: 'bob', aud: 'gw-basic', [AUTH_REQ_ID_CLAIM]: started.auth_req_id });
      const id = await jwtVerify(tokens.id_token!, jwks, { issuer: metadata.issuer, audience: 'gw-basic' });
      const digest = createHash('sha256').update(tokens.access_token).digest();
      expect(id.payload.at_hash).toBe(digest.subarray(0, 16).toString('base64url'));

      const events = await auditTypes(env.db.url, started.auth_req_id);
      const created = events.find((e) => e.type === 'approval.created')!;
      expect(created.actor).toBe('client:gw-basic');
      expect(created.data.authorization_details).toEqual([toolCallDetail()]);
      expect(events.find((e) => e.type === 'approval.token_redeemed')?.actor).toBe('client:gw-basic');
    });

    it('private_key_jwt: the client assertion authenticates both endpoints and a replayed assertion is refused, even after a Redis flush', async () => {
      const config = await configFor('agent-sdk');
      const started = await initiate(config, { login_hint: 'user:carol' });
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await vote(started.auth_req_id, 'carol', 'approve');
      const tokens = await polling;
      expect(tokens.claims()).toMatchObject({ sub: 'carol', aud: 'agent-sdk' });

      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: clientKid })
        .setIssuer('agent-sdk')
        .setSubject('agent-sdk')
        .setAudience(metadata.issuer)
        .setJti('assertion-once')
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(clientKey);
      const params = {
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
        grant_type: CIBA_GRANT,
        auth_req_id: started.auth_req_id,
      };
      expect((await form(metadata.token_endpoint, params)).body.error).toBe('invalid_grant'); // redeemed already
      const replay = await form(metadata.token_endpoint, params);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
      // Single use survives Redis losing its data: the used jti is recorded in Postgres.
      await env.flushRedis();
      const afterFlush = await form(metadata.token_endpoint, params);
      expect(afterFlush.status).toBe(401);
      expect(afterFlush.body.error).toBe('invalid_client');
    });

    it('client_secret_post works too', async () => {
      const config = await configFor('gw-post');
      const started = await initiate(config, { login_hint: 'dave' });
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await vote(started.auth_req_id, 'dave', 'approve');
      expect((await polling).claims()?.sub).toBe('dave');
    });

    it('a group login_hint lets any member approve, and the ID token names who did', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config, { login_hint: 'group:finance' });
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await vote(started.auth_req_id, 'carol', 'approve', 'on behalf of finance', 'finance');
      expect((await polling).claims()?.sub).toBe('carol');
    });

    it('deny → access_denied from the token endpoint', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config);
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await vote(started.auth_req_id, 'bob', 'deny', 'Not budgeted');
      await expect(polling).rejects.toMatchObject({ error: 'access_denied' });
    });

    it('requested_expiry is honoured: a request nobody decides ends in expired_token', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config, { requested_expiry: '2' });
      expect(started.expires_in).toBe(2);
      // openid-client stops polling at expires_in on its own, so the expiry is read at the wire.
      await sleep(2300);
      const res = await form(
        metadata.token_endpoint,
        { grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id },
        { authorization: basic('gw-basic', secrets['gw-basic']) },
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('expired_token');
    });

    it('a poll sooner than the interval gets slow_down with the interval grown by 5 s, and token responses are no-store', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config);
      const auth = { authorization: basic('gw-basic', secrets['gw-basic']) };
      const first = await form(metadata.token_endpoint, { grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id }, auth);
      expect(first.body).toMatchObject({ error: 'authorization_pending' });
      const second = await form(metadata.token_endpoint, { grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id }, auth);
      expect(second.status).toBe(400);
      expect(second.body).toMatchObject({ error: 'slow_down', interval: 6 });
      expect(second.headers.get('cache-control')).toBe('no-store');
    });

    it('openid-client obeys slow_down: it backs off by 5 s and then gets the tokens', async () => {
      const config = await configFor('gw-basic');
      const answers: string[] = [];
      let auth_req_id = '';
      config[oidc.customFetch] = async (url, options) => {
        if (String(url).endsWith('/oauth/token') && !answers.length) {
          // Another poll just before openid-client's first one makes that one too soon, deterministically.
          await form(metadata.token_endpoint, { grant_type: CIBA_GRANT, auth_req_id }, { authorization: basic('gw-basic', secrets['gw-basic']) });
        }
        const response = await fetch(url, options as RequestInit);
        if (String(url).endsWith('/oauth/token')) answers.push(((await response.clone().json()) as { error?: string }).error ?? 'tokens');
        return response;
      };
      const started = await initiate(config);
      auth_req_id = started.auth_req_id;
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await eventually(async () => answers.includes('slow_down'));
      const slowedAt = Date.now();
      await vote(started.auth_req_id, 'bob', 'approve');
      const tokens = await polling;
      // Both sides now hold 6 s (1 + 5): the client's next poll is on time and gets the tokens.
      expect(Date.now() - slowedAt).toBeGreaterThanOrEqual(5500);
      expect(answers).toEqual(['slow_down', 'tokens']);
      expect(tokens.claims()?.sub).toBe('bob');
    });

    it('double redemption, another client and an unknown id are all invalid_grant', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config);
      const polling = oidc.pollBackchannelAuthenticationGrant(config, started);
      await vote(started.auth_req_id, 'bob', 'approve');
      await polling;
      const grant = { grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id };
      const again = await form(metadata.token_endpoint, grant, { authorization: basic('gw-basic', secrets['gw-basic']) });
      expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      await expect(oidc.pollBackchannelAuthenticationGrant(config, { ...started, interval: 0 })).rejects.toMatchObject({ error: 'invalid_grant' });

      const other = await initiate(config);
      const stolen = await form(
        metadata.token_endpoint,
        { grant_type: CIBA_GRANT, auth_req_id: other.auth_req_id },
        { authorization: basic('gw-ping', secrets['gw-ping']) },
      );
      expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect((await requestRow(env.db.url, other.auth_req_id)).status).toBe('pending');
      const unknown = await form(
        metadata.token_endpoint,
        { grant_type: CIBA_GRANT, auth_req_id: 'A'.repeat(32) },
        { authorization: basic('gw-basic', secrets['gw-basic']) },
      );
      expect(unknown.body.error).toBe('invalid_grant');
    });

    it('the gateway API cannot redeem a request a CIBA client made', async () => {
      const config = await configFor('gw-basic');
      const started = await initiate(config);
      await vote(started.auth_req_id, 'bob', 'approve');
      const gateway = await gatewayToken({ tenant: 'acme', sub: 'gateway-1' });
      const res = await call(api.url, 'POST', `/v1/approvals/${started.auth_req_id}/token`, { token: gateway });
      expect(res.body.error).toBe('invalid_grant');
    });
  });

  describe('hints', () => {
    it('id_token_hint: an ID token issued earlier names the approver of a new request', async () => {
      const config = await configFor('gw-basic');
      const first = await initiate(config, { login_hint: 'erin' });
      const polling = oidc.pollBackchannelAuthenticationGrant(config, first);
      await vote(first.auth_req_id, 'erin', 'approve');
      const idToken = (await polling).id_token!;

      const second = await initiate(config, { login_hint: undefined, id_token_hint: idToken });
      expect(await approversOf(second.auth_req_id)).toEqual(['user:erin']);

      // Issued to another client: not a hint this client may use.
      const res = await form(metadata.backchannel_authentication_endpoint, backchannelParams({ id_token_hint: idToken }), {
        authorization: basic('gw-ping', secrets['gw-ping']),
      });
      expect(res.body).toMatchObject({ error: 'invalid_request' });
    });

    it('login_hint_token: a JWT signed with the client’s registered key, naming the user by sub_id; expired → expired_login_hint_token', async () => {
      const config = await configFor('agent-sdk');
      const hint = (exp: string | number) =>
        new SignJWT({ sub_id: { format: 'opaque', id: 'gina' } })
          .setProtectedHeader({ alg: 'ES256', kid: clientKid })
          .setIssuer('agent-sdk')
          .setAudience(metadata.issuer)
          .setIssuedAt()
          .setExpirationTime(exp)
          .sign(clientKey);
      const started = await initiate(config, { login_hint: undefined, login_hint_token: await hint('5m') });
      expect(await approversOf(started.auth_req_id)).toEqual(['user:gina']);
      await expect(initiate(config, { login_hint: undefined, login_hint_token: await hint(Math.floor(Date.now() / 1000) - 120) })).rejects.toMatchObject({
        error: 'expired_login_hint_token',
      });
      // A subject no directory id could be is a 400 naming the field, not a server error.
      const odd = await new SignJWT({ sub: 'gina\u0007'.padEnd(600, 'x') })
        .setProtectedHeader({ alg: 'ES256', kid: clientKid })
        .setIssuer('agent-sdk')
        .setAudience(metadata.issuer)
        .setExpirationTime('5m')
        .sign(clientKey);
      await expect(initiate(config, { login_hint: undefined, login_hint_token: odd })).rejects.toMatchObject({ error: 'invalid_request', status: 400 });
    });
  });

  async function approversOf(id: string): Promise<string[]> {
    const [row] = await sql<{ approvers: string[] }>(env.db.url, 'SELECT approvers FROM approval_requests WHERE id = $1', [id]);
    return row.approvers;
  }

  function backchannelParams(overrides: Record<string, string | string[] | undefined> = {}): Record<string, string | string[]> {
    const params: Record<string, string | string[] | undefined> = {
      scope: 'openid',
      login_hint: 'bob',
      binding_message: 'Pay 25,000 EUR',
      authorization_details: JSON.stringify([toolCallDetail()]),
      ...overrides,
    };
    return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string | string[]>;
  }

  describe('ciba_requests: CIBA keeps its client, scope and details in its own table', () => {
    const counts = async () => {
      const [row] = await sql(
        env.db.url,
        `SELECT (SELECT count(*) FROM approval_requests)::int AS approvals, (SELECT count(*) FROM ciba_requests)::int AS ciba,
                (SELECT count(*) FROM audit_events WHERE type = 'approval.created')::int AS created`,
      );
      return row as { approvals: number; ciba: number; created: number };
    };
    const start = (overrides: Record<string, string | undefined> = {}) =>
      form(metadata.backchannel_authentication_endpoint, backchannelParams(overrides), { authorization: basic('gw-basic', secrets['gw-basic']) });

    it('a park writes one ciba_requests row keyed by its auth_req_id; approval_requests has no CIBA columns', async () => {
      const res = await start();
      expect(res.status).toBe(200);
      const rows = await sql(env.db.url, `SELECT tenant_id, client_id, scope, authorization_details FROM ciba_requests WHERE auth_req_id = $1`, [
        res.body.auth_req_id,
      ]);
      expect(rows).toEqual([{ tenant_id: expect.any(String), client_id: 'gw-basic', scope: 'openid', authorization_details: [toolCallDetail()] }]);
      const [approval] = await sql(env.db.url, `SELECT tenant_id FROM approval_requests WHERE id = $1`, [res.body.auth_req_id]);
      expect(approval.tenant_id).toBe(rows[0].tenant_id);
      const columns = await sql(env.db.url, `SELECT column_name FROM information_schema.columns WHERE table_name = 'approval_requests'`);
      expect(columns.map((c) => c.column_name)).not.toEqual(expect.arrayContaining(['ciba_client_id']));
      expect(columns.map((c) => c.column_name)).not.toContain('scope');
      expect(columns.map((c) => c.column_name)).not.toContain('authorization_details');
    });

    it('the migration moves the rows: down puts them back on approval_requests, up moves them out again unchanged', async () => {
      const before = await sql(env.db.url, `SELECT * FROM ciba_requests ORDER BY auth_req_id`);
      expect(before.length).toBeGreaterThan(0);
      const db = new DataSource({ type: 'postgres', url: env.db.url });
      await db.initialize();
      const runner = db.createQueryRunner();
      try {
        await new CibaRequests1764130000000().down(runner);
        const restored = await sql(
          env.db.url,
          `SELECT id, ciba_client_id, scope, authorization_details FROM approval_requests WHERE ciba_client_id IS NOT NULL ORDER BY id`,
        );
        expect(restored).toEqual(
          before.map((r) => ({ id: r.auth_req_id, ciba_client_id: r.client_id, scope: r.scope, authorization_details: r.authorization_details })),
        );
        await new CibaRequests1764130000000().up(runner);
      } finally {
        await runner.release();
        await db.destroy();
      }
      expect(await sql(env.db.url, `SELECT * FROM ciba_requests ORDER BY auth_req_id`)).toEqual(before);
    });

    // Real Postgres refuses one of the two rows (a constraint added for the test): the other must not stay behind.
    it.each([
      ['ciba_requests row is refused', 'ciba_requests', `CHECK (scope <> 'openid atomicity_probe')`, { scope: 'openid atomicity_probe' }],
      [
        'approval_requests row is refused',
        'approval_requests',
        `CHECK (binding_message IS DISTINCT FROM 'atomicity probe')`,
        { binding_message: 'atomicity probe' },
      ],
    ])('a park whose %s leaves neither row (nor its audit event)', async (...[, table, check, overrides]) => {
      await sql(env.db.url, `ALTER TABLE ${table} ADD CONSTRAINT atomicity_probe ${check} NOT VALID`);
      try {
        const before = await counts();
        const res = await start(overrides as Record<string, string>);
        expect(res.status).toBe(500);
        expect(await counts()).toEqual(before);
      } finally {
        await sql(env.db.url, `ALTER TABLE ${table} DROP CONSTRAINT atomicity_probe`);
      }
      // And with the constraint gone, the same park succeeds with both rows.
      const before = await counts();
      expect((await start(overrides as Record<string, string>)).status).toBe(200);
      expect(await counts()).toEqual({ approvals: before.approvals + 1, ciba: before.ciba + 1, created: before.created + 1 });
    });
  });

  describe('request validation: the spec’s errors with the spec’s statuses', () => {
    const cases: [string, Record<string, string | string[] | undefined>, number, string, string?][] = [
      ['scope without openid', { scope: 'profile' }, 400, 'invalid_scope'],
      ['no scope', { scope: undefined }, 400, 'invalid_request', 'scope'],
      ['no hint', { login_hint: undefined }, 400, 'invalid_request'],
      ['two hints', { id_token_hint: 'x.y.z' }, 400, 'invalid_request'],
      ['an unknown user', { login_hint: 'nobody-here' }, 400, 'unknown_user_id'],
      ['an unknown group', { login_hint: 'group:ghosts' }, 400, 'unknown_user_id'],
      ['a binding message with a line break', { binding_message: 'Pay\nnow' }, 400, 'invalid_binding_message', 'binding_message'],
      ['a binding message too long', { binding_message: 'x'.repeat(257) }, 400, 'invalid_binding_message', 'binding_message'],
      ['authorization_details that is not JSON', { authorization_details: '[{' }, 400, 'invalid_authorization_details', 'authorization_details'],
      [
        'authorization_details of an unregistered type',
        { authorization_details: JSON.stringify([toolCallDetail({ type: 'payment_initiation' })]) },
        400,
        'invalid_authorization_details',
        'authorization_details[0].type',
      ],
      [
        'a tool call without a reason',
        { authorization_details: JSON.stringify([toolCallDetail({ reason: undefined })]) },
        400,
        'invalid_authorization_details',
        'authorization_details[0].reason',
      ],
      [
        'a tool call with an unknown field',
        { authorization_details: JSON.stringify([toolCallDetail({ sneaky: 1 })]) },
        400,
        'invalid_authorization_details',
        'authorization_details[0].sneaky',
      ],
      [
        'two tool calls',
        { authorization_details: JSON.stringify([toolCallDetail(), toolCallDetail()]) },
        400,
        'invalid_authorization_details',
        'authorization_details',
      ],
      ['no authorization_details', { authorization_details: undefined }, 400, 'invalid_request', 'authorization_details'],
      ['a repeated parameter', { login_hint: ['bob', 'carol'] }, 400, 'invalid_request', 'login_hint'],
      ['requested_expiry not a number', { requested_expiry: 'soon' }, 400, 'invalid_request', 'requested_expiry'],
      ['a user_code (not supported)', { user_code: '1234' }, 400, 'invalid_request', 'user_code'],
    ];
    // Rest parameters: a fixed arity above a row's length would make jest wait for a done() callback.
    it.each(cases)('%s', async (...[, overrides, status, error, field]) => {
      const res = await form(metadata.backchannel_authentication_endpoint, backchannelParams(overrides), {
        authorization: basic('gw-basic', secrets['gw-basic']),
      });
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(error);
      expect(typeof res.body.error_description).toBe('string');
      if (field) expect(res.body.field).toBe(field);
    });

    it('a ping client must send client_notification_token', async () => {
      const res = await form(metadata.backchannel_authentication_endpoint, backchannelParams(), { authorization: basic('gw-ping', secrets['gw-ping']) });
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'client_notification_token' } });
    });

    it('bad client credentials are invalid_client (401) with a Basic challenge, and nothing is parked', async () => {
      const res = await form(metadata.backchannel_authentication_endpoint, backchannelParams(), { authorization: basic('gw-basic', 'wrong') });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      const anonymous = await form(metadata.backchannel_authentication_endpoint, backchannelParams());
      expect(anonymous).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    });

    it('the token endpoint wants the CIBA grant type and an auth_req_id', async () => {
      const auth = { authorization: basic('gw-basic', secrets['gw-basic']) };
      expect((await form(metadata.token_endpoint, { grant_type: 'authorization_code', code: 'x' }, auth)).body.error).toBe('unsupported_grant_type');
      expect((await form(metadata.token_endpoint, { auth_req_id: 'A'.repeat(32) }, auth)).body).toMatchObject({
        error: 'invalid_request',
        field: 'grant_type',
      });
      expect((await form(metadata.token_endpoint, { grant_type: CIBA_GRANT }, auth)).body).toMatchObject({ error: 'invalid_request', field: 'auth_req_id' });
    });

    it('JSON instead of a form is invalid_request', async () => {
      const res = await call(api.url, 'POST', '/oauth/bc-authorize', {
        body: backchannelParams(),
        headers: { authorization: basic('gw-basic', secrets['gw-basic']) },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });
  });

  describe('ping and push', () => {
    it('ping: the client’s endpoint gets {auth_req_id} with its notification token as Bearer, then the token endpoint answers', async () => {
      const config = await configFor('gw-ping');
      const started = await initiate(config, { client_notification_token: 'ping-token-123' });
      await vote(started.auth_req_id, 'bob', 'approve');
      const ping = await eventually(async () => callbacks.requestsTo('/ciba/ping').find((r) => r.body?.auth_req_id === started.auth_req_id));
      expect(ping.headers.authorization).toBe('Bearer ping-token-123');
      expect(ping.body).toEqual({ auth_req_id: started.auth_req_id });
      const tokens = await oidc.pollBackchannelAuthenticationGrant(config, { ...started, interval: 0 });
      expect(tokens.claims()?.sub).toBe('bob');
    });

    it('push: the tokens themselves go to the client (with at_hash and auth_req_id in the ID token); denial pushes the error body', async () => {
      const config = await configFor('gw-push');
      const started = await initiate(config, { client_notification_token: 'push-token-456' });
      expect(started.interval).toBeUndefined();
      await vote(started.auth_req_id, 'bob', 'approve');
      const push = await eventually(async () => callbacks.requestsTo('/ciba/push').find((r) => r.body?.auth_req_id === started.auth_req_id));
      expect(push.headers.authorization).toBe('Bearer push-token-456');
      expect(Object.keys(push.body).sort()).toEqual(['access_token', 'auth_req_id', 'authorization_details', 'expires_in', 'id_token', 'scope', 'token_type']);
      const id = decodeJwt(push.body.id_token);
      expect(id).toMatchObject({ sub: 'bob', aud: 'gw-push', [AUTH_REQ_ID_CLAIM]: started.auth_req_id, at_hash: expect.any(String) });
      // Push clients do not poll: the token endpoint has nothing for them.
      const polled = await form(
        metadata.token_endpoint,
        { grant_type: CIBA_GRANT, auth_req_id: started.auth_req_id },
        { authorization: basic('gw-push', secrets['gw-push']) },
      );
      expect(polled.body.error).toBe('invalid_grant');

      const denied = await initiate(config, { client_notification_token: 'push-token-789' });
      await vote(denied.auth_req_id, 'bob', 'deny', 'no');
      const error = await eventually(async () => callbacks.requestsTo('/ciba/push').find((r) => r.body?.auth_req_id === denied.auth_req_id));
      expect(error.body).toEqual({ auth_req_id: denied.auth_req_id, error: 'access_denied', error_description: expect.any(String) });
    });
  });
});
