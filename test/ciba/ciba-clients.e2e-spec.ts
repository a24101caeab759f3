import { randomUUID } from 'node:crypto';
import { CryptoKey, decodeJwt, exportJWK, generateKeyPair, JWK, SignJWT } from 'jose';
import { CibaClientAuthentication, JWT_BEARER_ASSERTION_TYPE } from '../../src/ciba/clients/client-authentication.service';
import { jtiHash, UsedClientAssertions } from '../../src/ciba/clients/used-client-assertions.repository';
import { InvalidClient, InvalidRequest } from '../../src/common/errors/protocol-errors';
import type { ResolvedAddress } from '../../src/common/host-allow-list';
import { INTERNAL_NAME_ANSWERS } from '../support/fake-dns';
import { HostResolver } from '../../src/common/host-resolver';
import { adminToken, call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { CallbackServer, sql } from '../support/callback-server';
import { gatewayToken } from '../support/keys';

const ISSUER = 'https://countersign.test.example';
const AUDIENCES = [ISSUER, `${ISSUER}/oauth/token`];
const SECRET = /^[A-Za-z0-9_-]{43}$/;

interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** RFC 6749 §2.3.1: each part form-urlencoded, then joined and base64-encoded. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64')}`;

/** What a failed authentication threw (the test fails if it succeeded). */
async function refusal(p: Promise<unknown>): Promise<InvalidClient | InvalidRequest> {
  try {
    await p;
  } catch (e) {
    return e as InvalidClient;
  }
  throw new Error('the client was authenticated');
}

/** The CIBA client registry's admin API and OAuth client authentication for the CIBA endpoints. */
describe('CIBA clients', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let jwksServer: CallbackServer;
  let admin: string;
  let globexAdmin: string;
  let gateway: string;
  let inlineKey: KeyPair;
  let remoteKey: KeyPair;
  let jwksUri: string;
  let otherJwksUri: string;

  beforeAll(async () => {
    env = await testEnvironment({ directory: false });
    api = await env.start();
    admin = await adminToken();
    globexAdmin = await adminToken('globex');
    gateway = await gatewayToken({ tenant: 'acme', sub: 'gateway-1' });
    inlineKey = await keyPair('inline-1');
    remoteKey = await keyPair('remote-1');
    jwksServer = await CallbackServer.start();
    const jwksResponder = (keys: JWK[]) => (res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    };
    jwksUri = jwksServer.on('/jwks.json', jwksResponder([remoteKey.jwk]));
    otherJwksUri = jwksServer.on('/other-jwks.json', jwksResponder([remoteKey.jwk]));
  });
  afterAll(async () => {
    await jwksServer?.close();
    await env.teardown();
  });

  const path = (clientId: string) => `/v1/ciba-clients/${encodeURIComponent(clientId)}`;
  const put = (clientId: string, body: unknown, token = admin) => call(api.url, 'PUT', path(clientId), { token, body });
  const get = (clientId: string, token = admin) => call(api.url, 'GET', path(clientId), { token });
  const list = (query = '', token = admin) => call(api.url, 'GET', `/v1/ciba-clients${query}`, { token });
  const remove = (clientId: string, token = admin) => call(api.url, 'DELETE', path(clientId), { token });
  const rotate = (clientId: string, token = admin) => call(api.url, 'POST', `${path(clientId)}/secret`, { token });
  const authenticate = (input: { authorization?: string; body?: Record<string, unknown>; audiences?: string[] }) =>
    api.app.get(CibaClientAuthentication).authenticate({ authorization: input.authorization, body: input.body ?? {}, audiences: input.audiences ?? AUDIENCES });

  const pollBasic = { client_name: 'Payments gateway', backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic' };
  const pollJwt = (jwk: JWK) => ({ backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });

  describe('admin API', () => {
    it('registers a client (201) with its secret, which no later response shows again', async () => {
      const created = await put('gw-basic', pollBasic);
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        client_id: 'gw-basic',
        client_name: 'Payments gateway',
        backchannel_token_delivery_mode: 'poll',
        backchannel_client_notification_endpoint: null,
        token_endpoint_auth_method: 'client_secret_basic',
        jwks: null,
        jwks_uri: null,
        client_secret: expect.stringMatching(SECRET),
        client_secret_expires_at: 0,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      const secret = created.body.client_secret as string;

      const read = await get('gw-basic');
      expect(read.status).toBe(200);
      expect(read.body).not.toHaveProperty('client_secret');
      expect(read.body).not.toHaveProperty('secret_hash');
      const updated = await put('gw-basic', { ...pollBasic, client_name: 'Payments gateway (EU)', token_endpoint_auth_method: 'client_secret_post' });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ client_name: 'Payments gateway (EU)', token_endpoint_auth_method: 'client_secret_post' });
      expect(updated.body).not.toHaveProperty('client_secret');
      expect((await list()).body.clients[0]).not.toHaveProperty('client_secret');
      expect(JSON.stringify((await list()).body)).not.toMatch(/hmac-sha256|scrypt/);

      // Switching between the secret methods keeps the secret; the database holds only its hash.
      await expect(authenticate({ body: { client_id: 'gw-basic', client_secret: secret } })).resolves.toMatchObject({ clientId: 'gw-basic', tenantId: 'acme' });
      const [row] = await sql(env.db.url, `SELECT secret_hash FROM ciba_clients WHERE client_id = 'gw-basic'`);
      expect(row.secret_hash).toMatch(/^hmac-sha256\$/);
      expect(row.secret_hash).not.toContain(secret);
    });

    it('registers ping and push clients with an allow-listed notification endpoint, and private_key_jwt clients with jwks or jwks_uri', async () => {
      const ping = await put('gw-ping', {
        backchannel_token_delivery_mode: 'ping',
        backchannel_client_notification_endpoint: 'http://127.0.0.1:9/cb',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: jwksUri,
      });
      expect(ping.status).toBe(201);
      expect(ping.body).toMatchObject({ backchannel_client_notification_endpoint: 'http://127.0.0.1:9/cb', jwks_uri: jwksUri, jwks: null });
      expect(ping.body).not.toHaveProperty('client_secret');
      const push = await put('gw-push', {
        ...pollJwt(inlineKey.jwk),
        backchannel_token_delivery_mode: 'push',
        backchannel_client_notification_endpoint: 'http://127.0.0.1:9/push',
      });
      expect(push.status).toBe(201);
      expect(push.body.jwks).toEqual({ keys: [inlineKey.jwk] });
    });

    it('issues a new secret when the method changes to a secret method and on rotation; the old secret stops working at once', async () => {
      expect((await put('gw-switch', pollJwt(inlineKey.jwk))).status).toBe(201);
      const switched = await put('gw-switch', { ...pollBasic, token_endpoint_auth_method: 'client_secret_post' });
      expect(switched.status).toBe(200);
      expect(switched.body.client_secret).toMatch(SECRET);
      const first = switched.body.client_secret as string;
      await expect(authenticate({ body: { client_id: 'gw-switch', client_secret: first } })).resolves.toMatchObject({ clientId: 'gw-switch' });

      const rotated = await rotate('gw-switch');
      expect(rotated.status).toBe(200);
      expect(rotated.body).toMatchObject({ client_id: 'gw-switch', client_secret: expect.stringMatching(SECRET), client_secret_expires_at: 0 });
      expect(rotated.body.client_secret).not.toBe(first);
      expect((await refusal(authenticate({ body: { client_id: 'gw-switch', client_secret: first } }))).description).toBe('client authentication failed');
      await expect(authenticate({ body: { client_id: 'gw-switch', client_secret: rotated.body.client_secret } })).resolves.toMatchObject({
        clientId: 'gw-switch',
      });

      // Back to keys: the secret is dropped.
      expect((await put('gw-switch', pollJwt(inlineKey.jwk))).body).not.toHaveProperty('client_secret');
      expect(await sql(env.db.url, `SELECT secret_hash FROM ciba_clients WHERE client_id = 'gw-switch'`)).toEqual([{ secret_hash: null }]);
      const noSecret = await rotate('gw-switch');
      expect(noSecret.status).toBe(400);
      expect(noSecret.body.field).toBe('token_endpoint_auth_method');
      expect((await rotate('nobody')).status).toBe(404);
    });

    const privateJwk = async () => ({ ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)), kid: 'leaked' });
    it.each<[string, () => Promise<Record<string, unknown>> | Record<string, unknown>, string]>([
      ['ping without an endpoint', () => ({ ...pollBasic, backchannel_token_delivery_mode: 'ping' }), 'backchannel_client_notification_endpoint'],
      [
        'poll with an endpoint',
        () => ({ ...pollBasic, backchannel_client_notification_endpoint: 'http://127.0.0.1:9/cb' }),
        'backchannel_client_notification_endpoint',
      ],
      [
        'an endpoint off the allow-list',
        () => ({ ...pollBasic, backchannel_token_delivery_mode: 'push', backchannel_client_notification_endpoint: 'https://attacker.example/cb' }),
        'backchannel_client_notification_endpoint',
      ],
      [
        'an endpoint that is not a URL',
        () => ({ ...pollBasic, backchannel_token_delivery_mode: 'push', backchannel_client_notification_endpoint: 'cb' }),
        'backchannel_client_notification_endpoint',
      ],
      ['a jwks with a private key', async () => pollJwt(await privateJwk()), 'jwks.keys.0.d'],
      ['a jwks with a symmetric key', () => pollJwt({ kty: 'oct', k: 'c2VjcmV0' }), 'jwks.keys.0.kty'],
      ['a jwks with a broken key', () => pollJwt({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }), 'jwks.keys.0'],
      ['an empty jwks', () => ({ ...pollJwt(inlineKey.jwk), jwks: { keys: [] } }), 'jwks.keys'],
      ['both jwks and jwks_uri', () => ({ ...pollJwt(inlineKey.jwk), jwks_uri: jwksUri }), 'jwks_uri'],
      ['private_key_jwt without keys', () => ({ backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'private_key_jwt' }), 'jwks'],
      [
        'a jwks_uri off the allow-list',
        () => ({ backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.attacker.example/jwks' }),
        'jwks_uri',
      ],
      ['a secret method with jwks', () => ({ ...pollBasic, jwks: { keys: [inlineKey.jwk] } }), 'jwks'],
      ['an unknown auth method', () => ({ ...pollBasic, token_endpoint_auth_method: 'none' }), 'token_endpoint_auth_method'],
      ['an unknown delivery mode', () => ({ ...pollBasic, backchannel_token_delivery_mode: 'email' }), 'backchannel_token_delivery_mode'],
      ['no delivery mode', () => ({ token_endpoint_auth_method: 'client_secret_basic' }), 'backchannel_token_delivery_mode'],
      ['an unknown field', () => ({ ...pollBasic, redirect_uris: ['https://a.example'] }), 'redirect_uris'],
      ['a client_secret chosen by the admin', () => ({ ...pollBasic, client_secret: 'hunter2' }), 'client_secret'],
    ])('refuses %s with a 400 naming the field and writes nothing', async (_, body, field) => {
      const res = await put('gw-refused', await body());
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field });
      expect(await sql(env.db.url, `SELECT client_id FROM ciba_clients WHERE client_id = 'gw-refused'`)).toEqual([]);
    });

    it('refuses a client_id with spaces or beyond printable ASCII', async () => {
      for (const id of ['has space', 'caf\u00e9']) {
        const res = await put(id, pollBasic);
        expect(res.status).toBe(400);
        expect(res.body.field).toBe('client_id');
      }
    });

    it("lists the tenant's clients in keyset pages", async () => {
      const all = (await list()).body;
      expect(all.clients.map((c: { client_id: string }) => c.client_id)).toEqual(['gw-basic', 'gw-ping', 'gw-push', 'gw-switch']);
      expect(all.next_after).toBeNull();
      const page = (await list('?limit=2')).body;
      expect(page).toMatchObject({ clients: [{ client_id: 'gw-basic' }, { client_id: 'gw-ping' }], next_after: 'gw-ping' });
      expect((await list(`?limit=2&after=${page.next_after}`)).body.clients.map((c: { client_id: string }) => c.client_id)).toEqual(['gw-push', 'gw-switch']);
      expect((await list('?limit=0')).body.field).toBe('limit');
    });

    it('needs a gateway token with the admin scope, and keeps tenants apart: others see 404 and cannot take a client_id (409)', async () => {
      expect((await call(api.url, 'GET', '/v1/ciba-clients')).status).toBe(401);
      const noScope = await list('', gateway);
      expect(noScope.status).toBe(403);
      expect(noScope.body.error).toBe('insufficient_scope');
      expect((await put('gw-new', pollBasic, gateway)).status).toBe(403);

      expect((await get('gw-basic', globexAdmin)).status).toBe(404);
      expect((await list('', globexAdmin)).body.clients).toEqual([]);
      expect((await rotate('gw-basic', globexAdmin)).status).toBe(404);
      expect((await remove('gw-basic', globexAdmin)).status).toBe(404);
      const taken = await put('gw-basic', pollBasic, globexAdmin);
      expect(taken.status).toBe(409);
      expect(taken.body.error).toBe('client_id_taken');
      expect((await get('gw-basic')).body).toMatchObject({ client_name: 'Payments gateway (EU)' });
      expect(await sql(env.db.url, `SELECT tenant_id FROM ciba_clients WHERE client_id = 'gw-basic'`)).toEqual([{ tenant_id: 'acme' }]);
    });

    it('deletes a client, which then cannot authenticate', async () => {
      const created = await put('gw-gone', { ...pollBasic, token_endpoint_auth_method: 'client_secret_post' });
      expect((await remove('gw-gone')).status).toBe(204);
      expect((await get('gw-gone')).status).toBe(404);
      expect((await remove('gw-gone')).status).toBe(404);
      expect((await refusal(authenticate({ body: { client_id: 'gw-gone', client_secret: created.body.client_secret } }))).code).toBe('invalid_client');
    });

    it('audits every change naming the admin, never with a secret; refused changes leave no event', async () => {
      const events = await sql<{ type: string; actor: string; data: any }>(
        env.db.url,
        `SELECT type, actor, data FROM audit_events WHERE tenant_id = 'acme' AND type LIKE 'ciba_client.%' ORDER BY id`,
      );
      expect(events.map((e) => `${e.type} ${e.data.client_id}`)).toEqual([
        'ciba_client.registered gw-basic',
        'ciba_client.updated gw-basic',
        'ciba_client.registered gw-ping',
        'ciba_client.registered gw-push',
        'ciba_client.registered gw-switch',
        'ciba_client.updated gw-switch',
        'ciba_client.secret_rotated gw-switch',
        'ciba_client.updated gw-switch',
        'ciba_client.registered gw-gone',
        'ciba_client.deleted gw-gone',
      ]);
      expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['admin:idp']));
      expect(events[0].data).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', secret_issued: true });
      expect(events[1].data).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', secret_issued: false });
      expect(events[3].data.jwk_thumbprints).toEqual([expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)]);
      expect(JSON.stringify(events)).not.toMatch(/hmac-sha256|scrypt|client_secret"/);
      expect(await sql(env.db.url, `SELECT type FROM audit_events WHERE tenant_id = 'globex' AND type LIKE 'ciba_client.%'`)).toEqual([]);
    });

    it('settles concurrent registrations of one client_id: one creation with one secret, or one tenant and a 409', async () => {
      const same = await Promise.all([put('gw-race', pollBasic), put('gw-race', pollBasic)]);
      expect(same.map((r) => r.status).sort()).toEqual([200, 201]);
      expect(same.filter((r) => r.body.client_secret)).toHaveLength(1);
      const secret = same.find((r) => r.status === 201)!.body.client_secret;
      await expect(authenticate({ authorization: basic('gw-race', secret) })).resolves.toMatchObject({ clientId: 'gw-race' });

      const rivals = await Promise.all([put('gw-rival', pollBasic), put('gw-rival', pollBasic, globexAdmin)]);
      expect(rivals.map((r) => r.status).sort()).toEqual([201, 409]);
      const events = await sql(env.db.url, `SELECT tenant_id, type FROM audit_events WHERE data->>'client_id' IN ('gw-race', 'gw-rival') ORDER BY id`);
      expect(events).toHaveLength(3);
    });
  });

  describe('client authentication', () => {
    const oddId = 'ops:gw/1+2%3_x~';
    let basicSecret: string;
    let postSecret: string;
    let oddSecret: string;

    beforeAll(async () => {
      basicSecret = (await put('c-basic', pollBasic)).body.client_secret;
      postSecret = (await put('c-post', { ...pollBasic, token_endpoint_auth_method: 'client_secret_post' })).body.client_secret;
      oddSecret = (await put(oddId, pollBasic)).body.client_secret;
      expect((await put('c-jwt', pollJwt(inlineKey.jwk))).status).toBe(201);
      expect((await put('c-remote', { ...pollJwt(inlineKey.jwk), jwks: undefined, jwks_uri: jwksUri })).status).toBe(201);
    });

    const assertion = async (
      claims: { iss?: string; sub?: string; aud?: string | string[]; jti?: string | null; iat?: number; exp?: number } = {},
      key: KeyPair = inlineKey,
      clientId = 'c-jwt',
    ) => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT(claims.jti === null ? {} : { jti: claims.jti ?? randomUUID() })
        .setProtectedHeader({ alg: 'ES256', kid: key.jwk.kid })
        .setIssuer(claims.iss ?? clientId)
        .setSubject(claims.sub ?? clientId)
        .setAudience(claims.aud ?? ISSUER)
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(claims.exp ?? now + 60);
      return jwt.sign(key.privateKey);
    };
    const jwtBody = (clientAssertion: string, extra: Record<string, unknown> = {}) => ({
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: clientAssertion,
      ...extra,
    });

    describe('client_secret_basic', () => {
      it('authenticates the registered client with its secret', async () => {
        const client = await authenticate({ authorization: basic('c-basic', basicSecret) });
        expect(client).toMatchObject({
          clientId: 'c-basic',
          tenantId: 'acme',
          tokenEndpointAuthMethod: 'client_secret_basic',
          backchannelTokenDeliveryMode: 'poll',
        });
        // client_id may also be in the body when it names the same client.
        await expect(authenticate({ authorization: basic('c-basic', basicSecret), body: { client_id: 'c-basic' } })).resolves.toMatchObject({
          clientId: 'c-basic',
        });
      });

      it('form-urlencodes the client_id, so ids with ":", "/", "+" and "%" work', async () => {
        await expect(authenticate({ authorization: basic(oddId, oddSecret) })).resolves.toMatchObject({ clientId: oddId });
        // The same id sent without form-encoding is another (unknown) client.
        const raw = `Basic ${Buffer.from(`${oddId}:${oddSecret}`).toString('base64')}`;
        expect((await refusal(authenticate({ authorization: raw }))).code).toBe('invalid_client');
      });

      it('refuses a wrong secret and an unknown client alike, with the Basic challenge', async () => {
        const wrong = await refusal(authenticate({ authorization: basic('c-basic', `${basicSecret}x`) }));
        const unknown = await refusal(authenticate({ authorization: basic('nobody', basicSecret) }));
        for (const e of [wrong, unknown]) {
          expect(e).toBeInstanceOf(InvalidClient);
          expect(e.status).toBe(401);
          expect(e.body()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
          expect(e.headers()).toEqual({ 'WWW-Authenticate': 'Basic realm="countersign"' });
        }
      });

      it('refuses a header that is not Basic credentials, and a body client_id naming another client', async () => {
        for (const authorization of [
          'Basic !!!',
          `Basic ${Buffer.from('no-colon').toString('base64')}`,
          'Bearer abc',
          `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}`,
        ]) {
          const e = await refusal(authenticate({ authorization }));
          expect(e.code).toBe('invalid_client');
          expect(e.headers()).toEqual({ 'WWW-Authenticate': 'Basic realm="countersign"' });
        }
        expect((await refusal(authenticate({ authorization: basic('c-basic', basicSecret), body: { client_id: 'c-post' } }))).code).toBe('invalid_client');
      });

      it('refuses a client registered for another method even with the right secret', async () => {
        const e = await refusal(authenticate({ authorization: basic('c-post', postSecret) }));
        expect(e.body()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
      });
    });

    describe('client_secret_post', () => {
      it('authenticates client_id and client_secret from the body', async () => {
        await expect(authenticate({ body: { client_id: 'c-post', client_secret: postSecret, scope: 'openid' } })).resolves.toMatchObject({
          clientId: 'c-post',
        });
      });

      it('refuses a wrong secret, a missing client_id, and a client registered for Basic (no challenge)', async () => {
        for (const body of [
          { client_id: 'c-post', client_secret: basicSecret },
          { client_secret: postSecret },
          { client_id: 'c-basic', client_secret: basicSecret },
        ]) {
          const e = await refusal(authenticate({ body }));
          expect(e.code).toBe('invalid_client');
          expect(e.headers()).toEqual({});
        }
      });

      it('treats a repeated parameter as invalid_request naming it', async () => {
        for (const [name, body] of [
          ['client_secret', { client_id: 'c-post', client_secret: [postSecret, postSecret] }],
          ['client_id', { client_id: ['c-post', 'c-basic'], client_secret: postSecret }],
          ['client_assertion', jwtBody('x', { client_assertion: ['a', 'b'] })],
        ] as const) {
          const e = await refusal(authenticate({ body: body as Record<string, unknown> }));
          expect(e).toBeInstanceOf(InvalidRequest);
          expect(e.body()).toMatchObject({ error: 'invalid_request', field: name });
        }
      });
    });

    describe('one method per request', () => {
      it('refuses a request that uses both Basic and the body', async () => {
        const e = await refusal(authenticate({ authorization: basic('c-basic', basicSecret), body: { client_id: 'c-basic', client_secret: basicSecret } }));
        expect(e.code).toBe('invalid_client');
        expect(e.description).toMatch(/one client authentication method/);
        expect(e.headers()).toEqual({ 'WWW-Authenticate': 'Basic realm="countersign"' });
      });

      it('refuses a secret together with a client assertion, and a request with no authentication', async () => {
        const both = await refusal(authenticate({ body: jwtBody(await assertion(), { client_id: 'c-jwt', client_secret: postSecret }) }));
        expect(both.code).toBe('invalid_client');
        const none = await refusal(authenticate({ body: { client_id: 'c-post' } }));
        expect(none).toMatchObject({ code: 'invalid_client', status: 401 });
      });
    });

    describe('private_key_jwt', () => {
      it("authenticates an assertion signed by a key in the client's jwks, for either audience", async () => {
        await expect(authenticate({ body: jwtBody(await assertion()) })).resolves.toMatchObject({
          clientId: 'c-jwt',
          tokenEndpointAuthMethod: 'private_key_jwt',
        });
        await expect(
          authenticate({ body: jwtBody(await assertion({ aud: ['https://elsewhere.example', AUDIENCES[1]] }), { client_id: 'c-jwt' }) }),
        ).resolves.toMatchObject({ clientId: 'c-jwt' });
      });

      it("authenticates with keys fetched from the client's jwks_uri", async () => {
        await expect(authenticate({ body: jwtBody(await assertion({}, remoteKey, 'c-remote')) })).resolves.toMatchObject({ clientId: 'c-remote' });
        expect(jwksServer.requestsTo('/jwks.json').length).toBeGreaterThanOrEqual(1);
        // A key the jwks_uri does not publish.
        expect((await refusal(authenticate({ body: jwtBody(await assertion({}, inlineKey, 'c-remote')) }))).description).toBe('client authentication failed');
      });

      it('refuses an assertion signed by another key, as it refuses an unknown client', async () => {
        const wrongKey = await keyPair('inline-1');
        for (const body of [jwtBody(await assertion({}, wrongKey)), jwtBody(await assertion({}, inlineKey, 'nobody'))]) {
          const e = await refusal(authenticate({ body }));
          expect(e.body()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
          expect(e.headers()).toEqual({});
        }
      });

      it.each<[string, () => Promise<Record<string, unknown>>, RegExp]>([
        ['another audience', async () => jwtBody(await assertion({ aud: 'https://other.example' })), /the client assertion is for another audience/],
        [
          'an expired assertion',
          async () => jwtBody(await assertion({ iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 })),
          /expired/,
        ],
        ['a lifetime over five minutes', async () => jwtBody(await assertion({ exp: Math.floor(Date.now() / 1000) + 3600 })), /at most 300 seconds/],
        ['no jti', async () => jwtBody(await assertion({ jti: null })), /"jti" claim/],
        ['sub other than iss', async () => jwtBody(await assertion({ sub: 'someone-else' })), /"sub"/],
        ['a body client_id other than iss', async () => jwtBody(await assertion(), { client_id: 'c-basic' }), /client_id/],
        [
          'another assertion type',
          async () => ({ ...jwtBody(await assertion()), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }),
          /client_assertion_type/,
        ],
        ['an assertion that is not a JWT', async () => jwtBody('not-a-jwt'), /not a JWT/],
        ['a client registered for a secret', async () => jwtBody(await assertion({}, inlineKey, 'c-post')), /client authentication failed/],
      ])('refuses %s', async (_, body, description) => {
        const e = await refusal(authenticate({ body: await body() }));
        expect(e).toBeInstanceOf(InvalidClient);
        expect(e.description).toMatch(description);
      });

      it('refuses an HS256 assertion (asymmetric algorithms only)', async () => {
        const now = Math.floor(Date.now() / 1000);
        const hs = await new SignJWT({ jti: randomUUID() })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('c-jwt')
          .setSubject('c-jwt')
          .setAudience(ISSUER)
          .setExpirationTime(now + 60)
          .sign(new TextEncoder().encode('a shared secret of at least 32 bytes!!'));
        expect((await refusal(authenticate({ body: jwtBody(hs) }))).code).toBe('invalid_client');
      });

      it('accepts each assertion once: a replayed jti is refused, on every instance', async () => {
        const once = await assertion();
        await expect(authenticate({ body: jwtBody(once) })).resolves.toMatchObject({ clientId: 'c-jwt' });
        expect((await refusal(authenticate({ body: jwtBody(once) }))).description).toMatch(/already been used/);
        const second = await env.start();
        try {
          const replay = await refusal(second.app.get(CibaClientAuthentication).authenticate({ body: jwtBody(once), audiences: AUDIENCES }));
          expect(replay.description).toMatch(/already been used/);
        } finally {
          await second.close();
        }
        // The jti is remembered (in Postgres) only until the assertion could no longer be accepted anyway (exp plus the clock tolerance).
        const { jti, exp } = decodeJwt(once);
        const rows = await sql(env.db.url, `SELECT tenant_id, client_id, expires_at FROM used_client_assertions WHERE jti_sha256 = $1`, [jtiHash(jti!)]);
        expect(rows).toEqual([{ tenant_id: 'acme', client_id: 'c-jwt', expires_at: new Date((exp! + 5) * 1000) }]);
      });

      it('a used assertion is still refused after Redis lost its data', async () => {
        const once = await assertion();
        await expect(authenticate({ body: jwtBody(once) })).resolves.toMatchObject({ clientId: 'c-jwt' });
        await env.flushRedis();
        const replay = await refusal(authenticate({ body: jwtBody(once) }));
        expect(replay).toBeInstanceOf(InvalidClient);
        expect(replay.code).toBe('invalid_client');
        expect(replay.description).toMatch(/already been used/);
      });

      it('forgets a jti once its assertion can no longer be accepted, and only then', async () => {
        const expired = [`('acme', 'c-jwt', 'old-1', now() - interval '2 minutes')`, `('acme', 'c-jwt', 'old-2', now() - interval '1 day')`];
        const recent = `('acme', 'c-jwt', 'recent', now() - interval '10 seconds')`;
        await sql(env.db.url, `INSERT INTO used_client_assertions (tenant_id, client_id, jti_sha256, expires_at) VALUES ${[...expired, recent].join(', ')}`);
        const store = api.app.get(UsedClientAssertions);
        expect(await store.purgeExpired()).toBeGreaterThanOrEqual(2);
        const left = await sql(env.db.url, `SELECT jti_sha256 FROM used_client_assertions WHERE jti_sha256 IN ('old-1', 'old-2', 'recent')`);
        // A row outlives its assertion by a minute, for app hosts whose clocks disagree.
        expect(left).toEqual([{ jti_sha256: 'recent' }]);
      });

      it("follows a change of the client's keys at once", async () => {
        const rotatedKey = await keyPair('inline-2');
        expect((await put('c-jwt', pollJwt(rotatedKey.jwk))).status).toBe(200);
        expect((await refusal(authenticate({ body: jwtBody(await assertion()) }))).description).toBe('client authentication failed');
        await expect(authenticate({ body: jwtBody(await assertion({}, rotatedKey)) })).resolves.toMatchObject({ clientId: 'c-jwt' });
        expect((await put('c-jwt', { ...pollJwt(rotatedKey.jwk), jwks: null, jwks_uri: otherJwksUri })).status).toBe(200);
        await expect(authenticate({ body: jwtBody(await assertion({}, remoteKey)) })).resolves.toMatchObject({ clientId: 'c-jwt' });
        expect(jwksServer.requestsTo('/other-jwks.json').length).toBe(1);
      });
    });

    describe('jwks_uri addresses (SSRF by name)', () => {
      const answers = INTERNAL_NAME_ANSWERS;
      let strict: TestApp;
      let otherServer: CallbackServer;
      let lookups: string[];
      // keys.test answers 127.0.0.1 (the list names it, on the JWKS server's port) the first time,
      // then an internal address: DNS rebinding. Only the first answer may be used to connect.
      let keysAnswers: ResolvedAddress[][];
      const realResolve = HostResolver.prototype.resolve;
      const port = () => new URL(jwksServer.url).port;
      const serve = (server: CallbackServer, path: string) =>
        server.on(path, (res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ keys: [remoteKey.jwk] }));
        });
      const register = async (clientId: string, jwksUriOf: string) => {
        const res = await call(strict.url, 'PUT', path(clientId), { token: admin, body: { ...pollJwt(inlineKey.jwk), jwks: undefined, jwks_uri: jwksUriOf } });
        expect(res.status).toBe(201);
      };
      const authenticateStrict = async (clientId: string) =>
        strict.app.get(CibaClientAuthentication).authenticate({ body: jwtBody(await assertion({}, remoteKey, clientId)), audiences: AUDIENCES });

      beforeAll(async () => {
        jest.spyOn(HostResolver.prototype, 'resolve').mockImplementation(async function (this: HostResolver, host: string) {
          lookups.push(host);
          if (host === 'keys.test') return keysAnswers.shift() ?? [{ address: '10.0.0.6', family: 4 }];
          return answers[host] ?? realResolve.call(this, host);
        });
        otherServer = await CallbackServer.start();
        // Names on the list; of the loopback addresses, only the JWKS server's port of 127.0.0.1.
        strict = await env.start({ CALLBACK_ALLOWED_HOSTS: `keys.test,internal.test,metadata.test,loopback6.test,mixed.test,localhost,127.0.0.1:${port()}` });
      });
      beforeEach(() => {
        lookups = [];
        keysAnswers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.0.0.6', family: 4 }]];
      });
      afterAll(async () => {
        await strict?.close();
        await otherServer?.close();
        jest.restoreAllMocks();
      });

      it.each([
        ['internal.test', '10.0.0.5'],
        ['metadata.test', '169.254.169.254'],
        ['loopback6.test', '::1'],
        ['mixed.test', '192.168.0.10'],
      ])('an allow-listed name that resolves to an internal address (%s → %s) is never fetched: invalid_client', async (host) => {
        const clientId = `c-ssrf-${host}`;
        const p = `/jwks-${host}.json`;
        serve(jwksServer, p);
        await register(clientId, `http://${host}:${port()}${p}`);
        const e = await refusal(authenticateStrict(clientId));
        expect(e).toBeInstanceOf(InvalidClient);
        expect(e.body()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
        // The name was resolved by the check, and nothing was fetched.
        expect(lookups).toContain(host);
        expect(jwksServer.requestsTo(p)).toHaveLength(0);
      });

      it('fetches from the address that was checked, with the name as Host, and never resolves the name again', async () => {
        const p = '/jwks-pinned.json';
        serve(jwksServer, p);
        await register('c-ssrf-pinned', `http://keys.test:${port()}${p}`);
        await expect(authenticateStrict('c-ssrf-pinned')).resolves.toMatchObject({ clientId: 'c-ssrf-pinned' });
        const [fetched] = jwksServer.requestsTo(p);
        expect(fetched.headers.host).toBe(`keys.test:${port()}`);
        // The keys are cached: a second assertion fetches nothing and asks DNS nothing.
        await expect(authenticateStrict('c-ssrf-pinned')).resolves.toMatchObject({ clientId: 'c-ssrf-pinned' });
        expect(jwksServer.requestsTo(p)).toHaveLength(1);
        expect(lookups.filter((h) => h === 'keys.test')).toEqual(['keys.test']);
        expect(keysAnswers).toHaveLength(1);
      });

      it('"localhost" on the list by name does not open loopback: the real resolver\'s answer is checked', async () => {
        const p = '/jwks-localhost.json';
        serve(otherServer, p);
        await register('c-ssrf-localhost', `http://localhost:${new URL(otherServer.url).port}${p}`);
        const e = await refusal(authenticateStrict('c-ssrf-localhost'));
        expect(e.description).toBe('client authentication failed');
        expect(otherServer.requestsTo(p)).toHaveLength(0);
      });
    });
  });
});
