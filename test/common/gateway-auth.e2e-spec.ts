import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, importJWK, JWK, JWTPayload, SignJWT } from 'jose';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { APPROVER_LINK_AUDIENCE, APPROVER_LINK_TYP } from '../../src/common/auth/approver-link.verifier';
import { NotFound } from '../../src/common/errors/protocol-errors';
import { generatePrivateJwk } from '../../src/common/keys/key-files';
import { verifyPartyToken } from '../../src/common/keys/jwks-source';
import { SigningKeys } from '../../src/common/keys/signing-keys.service';
import { ApiResponse, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { gatewayToken, prepareTestKeys, TEST_GATEWAY_AUDIENCE, TEST_GATEWAY_ISSUER } from '../support/keys';

const now = () => Math.floor(Date.now() / 1000);

/** Signs exactly `payload` (no defaults filled in) with the trusted gateway key, or `key`. */
async function signGateway(payload: JWTPayload, key?: JWK, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = key ?? (JSON.parse(readFileSync((await prepareTestKeys()).gatewayPrivateKeyFile, 'utf8')) as JWK);
  return new SignJWT(payload).setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, ...header }).sign(await importJWK(jwk, jwk.alg));
}
const validClaims = (): JWTPayload => ({
  iss: TEST_GATEWAY_ISSUER,
  aud: TEST_GATEWAY_AUDIENCE,
  sub: 'gateway-1',
  tenant: 'acme',
  iat: now(),
  exp: now() + 600,
});
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function expectInvalidToken(res: ApiResponse): void {
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ error: 'invalid_token' });
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="invalid_token"');
}

describe('gateway authentication, approver links and tenancy', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let acme: string;
  let globex: string;

  const park = (token = acme, overrides: Record<string, unknown> = {}) => parkApproval(api, token, parkBody(overrides));
  const mint = (approvalId: string, approverId = 'bob', tenantId = 'acme') => api.app.get(ApproverLinks).mint({ tenantId, approvalId, approverId });
  const vote = (id: string, token: string) =>
    call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token, body: { decision: 'approve', reason: 'looks right' } });
  const status = async (id: string) => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: acme })).body.status;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    acme = await tenantToken('acme', 'gateway-1');
    globex = await tenantToken('globex', 'gateway-9');
  });
  afterAll(() => env.teardown());

  describe('a gateway request without a valid bearer JWT is 401 invalid_token with a Bearer challenge', () => {
    const cases: [string, () => Promise<Record<string, string>>][] = [
      ['there is no Authorization header', async () => ({})],
      ['the header uses the Basic scheme', async () => ({ authorization: 'Basic Z2F0ZXdheTpzZWNyZXQ=' })],
      ['the header is a bare token without a scheme', async () => ({ authorization: await tenantToken() })],
      ['the bearer value is empty', async () => ({ authorization: 'Bearer ' })],
      ['the token is garbage', async () => ({ authorization: 'Bearer not-a-jwt' })],
      ['the token has three garbage segments', async () => ({ authorization: 'Bearer aaa.bbb.ccc' })],
      ['the token is unsigned (alg none)', async () => ({ authorization: `Bearer ${b64url({ alg: 'none' })}.${b64url(validClaims())}.` })],
      ['the token is signed by another key', async () => ({ authorization: `Bearer ${await signGateway(validClaims(), await generatePrivateJwk())}` })],
      [
        'the token is signed by another key under the trusted kid',
        async () => {
          const trusted = JSON.parse(readFileSync((await prepareTestKeys()).gatewayPrivateKeyFile, 'utf8')) as JWK;
          const forged = { ...(await generatePrivateJwk()), kid: trusted.kid };
          return { authorization: `Bearer ${await signGateway(validClaims(), forged)}` };
        },
      ],
      [
        'the token is HS256 keyed with the public key (algorithm confusion)',
        async () => {
          const trusted = JSON.parse(readFileSync((await prepareTestKeys()).gatewayPrivateKeyFile, 'utf8')) as JWK;
          const secret = new TextEncoder().encode(JSON.stringify({ kty: trusted.kty, crv: trusted.crv, x: trusted.x, y: trusted.y }));
          const jwt = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'HS256', kid: trusted.kid }).sign(secret);
          return { authorization: `Bearer ${jwt}` };
        },
      ],
      ['the issuer is wrong', async () => ({ authorization: `Bearer ${await gatewayToken({}, { issuer: 'https://evil.example' })}` })],
      ['the audience is wrong', async () => ({ authorization: `Bearer ${await gatewayToken({}, { audience: 'another-service' })}` })],
      ['the token has expired', async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), iat: now() - 600, exp: now() - 60 })}` })],
      ['the token has no exp', async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), exp: undefined })}` })],
      [
        'the token is not valid before an hour from now',
        async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), nbf: now() + 3600 })}` }),
      ],
      ['the token has no kid', async () => ({ authorization: `Bearer ${await signGateway(validClaims(), undefined, { kid: undefined })}` })],
      [
        'the token is issued an hour from now (iat in the future)',
        async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), iat: now() + 3600 })}` }),
      ],
      ['the token has no sub', async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), sub: undefined })}` })],
      ['the tenant claim is missing', async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), tenant: undefined })}` })],
      ['the tenant claim is a number', async () => ({ authorization: `Bearer ${await signGateway({ ...validClaims(), tenant: 42 })}` })],
      ['the tenant claim is empty', async () => ({ authorization: `Bearer ${await gatewayToken({ tenant: '' })}` })],
      ['the tenant claim contains a slash', async () => ({ authorization: `Bearer ${await gatewayToken({ tenant: 'acme/../globex' })}` })],
      ['the tenant claim contains a space', async () => ({ authorization: `Bearer ${await gatewayToken({ tenant: 'acme corp' })}` })],
      ['the tenant claim contains a SQL wildcard', async () => ({ authorization: `Bearer ${await gatewayToken({ tenant: 'acme%' })}` })],
      ['the tenant claim is longer than 64 characters', async () => ({ authorization: `Bearer ${await gatewayToken({ tenant: 'a'.repeat(65) })}` })],
    ];

    it.each(cases)('when %s', async (_what, headers) => {
      const h = await headers();
      // The token endpoint and the park endpoint, so that no gateway route is left out.
      expectInvalidToken(await call(api.url, 'POST', '/v1/approvals', { headers: h, body: parkBody() }));
      expectInvalidToken(await call(api.url, 'GET', `/v1/approvals/${'A'.repeat(32)}`, { headers: h }));
    });

    it('a valid token passes, with the scheme in any case', async () => {
      const token = await signGateway({ ...validClaims(), nbf: now() });
      const res = await call(api.url, 'POST', '/v1/approvals', { headers: { authorization: `bearer ${token}` }, body: parkBody() });
      expect(res.status).toBe(200);
    });
  });

  describe("a refused token's 401 says why in the API's words: nothing of jose's message, code or reason reaches the client", () => {
    /** What jose itself says about `token` when verified as the server verifies it. */
    async function joseWording(token: string): Promise<string[]> {
      const jwks = createLocalJWKSet(JSON.parse(readFileSync((await prepareTestKeys()).gatewayJwksFile, 'utf8')));
      try {
        await verifyPartyToken(token, jwks, { issuer: TEST_GATEWAY_ISSUER, audience: TEST_GATEWAY_AUDIENCE });
      } catch (e) {
        expect(e).toBeInstanceOf(errors.JOSEError);
        const jose = e as errors.JOSEError & { reason?: string };
        return [jose.message, jose.code, ...(jose.reason ? [jose.reason] : [])];
      }
      throw new Error('jose accepted the token');
    }

    it.each<[string, () => Promise<string>, string]>([
      ['malformed', async () => 'aaa.bbb.ccc', 'the token is malformed'],
      ['expired', () => signGateway({ ...validClaims(), iat: now() - 600, exp: now() - 60 }), 'the token has expired'],
      ['for another audience', () => gatewayToken({}, { audience: 'another-service' }), 'the token is for another audience'],
      ['signed by another key', async () => signGateway(validClaims(), await generatePrivateJwk()), 'the token was not signed by a trusted key'],
      ['without exp', () => signGateway({ ...validClaims(), exp: undefined }), 'the token has no "exp" claim'],
    ])('a %s token', async (_what, token, sentence) => {
      const jwt = await token();
      const res = await call(api.url, 'POST', '/v1/approvals', { headers: { authorization: `Bearer ${jwt}` }, body: parkBody() });
      expectInvalidToken(res);
      expect(res.body.error_description).toBe(sentence);
      const said = JSON.stringify(res.body) + (res.headers.get('www-authenticate') ?? '');
      for (const words of await joseWording(jwt)) expect(said).not.toContain(words);
      expect(said).not.toMatch(/ERR_J|check_failed|Compact JWS|claim value|timestamp check/);
    });

    it('an expired approver link says so in the same words, and never in jose’s', async () => {
      const id = await park();
      const link = await api.app
        .get(SigningKeys)
        .sign(
          { tenant: 'acme', auth_req_id: id },
          { typ: APPROVER_LINK_TYP, audience: APPROVER_LINK_AUDIENCE, subject: 'bob', expiresAt: new Date(Date.now() - 60_000), jti: randomUUID() },
        );
      const res = await vote(id, link);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('approver link: the token has expired');
      expect(JSON.stringify(res.body)).not.toMatch(/ERR_J|check_failed|claim timestamp/);
    });
  });

  describe('verified tokens are remembered, but never past their expiry', () => {
    it('a token that worked is refused once it expires, although it was verified moments before', async () => {
      const token = await gatewayToken({ tenant: 'acme' }, { expiresIn: '2s' });
      const first = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody() });
      expect(first.status).toBe(200);
      // Past exp plus the 5 s clock tolerance jose allows.
      await new Promise((r) => setTimeout(r, 7500));
      const again = await call(api.url, 'GET', `/v1/approvals/${first.body.auth_req_id}`, { token });
      expect(again.status).toBe(401);
      expect(again.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }, 15000);
  });

  describe('approver links and gateway tokens are not interchangeable', () => {
    it('an approver link is not accepted as a gateway token', async () => {
      const id = await park();
      const link = await mint(id);
      expectInvalidToken(await call(api.url, 'GET', `/v1/approvals/${id}`, { token: link.token }));
      expectInvalidToken(await call(api.url, 'POST', '/v1/approvals', { token: link.token, body: parkBody() }));
      expectInvalidToken(await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: link.token }));
      expectInvalidToken(await call(api.url, 'DELETE', `/v1/approvals/${id}`, { token: link.token }));
      expect(await status(id)).toBe('pending');
    });

    it('a gateway token is not accepted as an approver link', async () => {
      const id = await park();
      expectInvalidToken(await vote(id, acme));
      expect(await status(id)).toBe('pending');
    });

    it('an approval token is not accepted as an approver link nor as a gateway token', async () => {
      const id = await park();
      expect((await vote(id, (await mint(id)).token)).status).toBe(200);
      const redeemed = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: acme });
      expect(redeemed.status).toBe(200);
      const other = await park();
      expectInvalidToken(await vote(other, redeemed.body.approval_token));
      expectInvalidToken(await call(api.url, 'GET', `/v1/approvals/${other}`, { token: redeemed.body.approval_token }));
    });

    it('a link whose payload was altered is 401, and the vote is not counted', async () => {
      const id = await park();
      const [h, p, s] = (await mint(id, 'bob')).token.split('.');
      // A meaningful forgery: bob's link re-addressed to carol, signature kept.
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      expectInvalidToken(await vote(id, [h, b64url({ ...claims, sub: 'carol' }), s].join('.')));
      // A single flipped character in the middle of the payload.
      const i = Math.floor(p.length / 2);
      const flipped = p.slice(0, i) + (p[i] === 'A' ? 'B' : 'A') + p.slice(i + 1);
      expectInvalidToken(await vote(id, [h, flipped, s].join('.')));
      expect(await status(id)).toBe('pending');
    });

    it('an expired link is 401, while the same link unexpired is accepted', async () => {
      const id = await park();
      const sign = (expiresAt: Date) =>
        api.app
          .get(SigningKeys)
          .sign(
            { tenant: 'acme', auth_req_id: id },
            { typ: APPROVER_LINK_TYP, audience: APPROVER_LINK_AUDIENCE, subject: 'bob', expiresAt, jti: randomUUID() },
          );
      expectInvalidToken(await vote(id, await sign(new Date(Date.now() - 10_000))));
      expect(await status(id)).toBe('pending');
      expect((await vote(id, await sign(new Date(Date.now() + 60_000)))).status).toBe(200);
    });

    it('a link minted for a short-lived request stops working when the request expires', async () => {
      const id = await park(acme, { obligation: { approvers: ['user:bob'], expires_in: 1 } });
      const link = await mint(id);
      // The link's exp is the request's expiry rounded up to the whole second (JWT exp is in seconds).
      await new Promise((r) => setTimeout(r, 2100));
      expectInvalidToken(await vote(id, link.token));
    });
  });

  describe('tenancy', () => {
    const unknownId = () => randomBytes(24).toString('base64url');

    it("another tenant's GET of a request is 404, exactly as for an id that does not exist", async () => {
      const id = await park();
      const theirs = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: globex });
      const unknown = await call(api.url, 'GET', `/v1/approvals/${unknownId()}`, { token: globex });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toMatchObject({ error: 'not_found' });
      expect(theirs.body).toEqual(unknown.body);
      const waited = await call(api.url, 'GET', `/v1/approvals/${id}?wait=1`, { token: globex });
      expect(waited.status).toBe(404);
      expect(waited.body).toEqual(unknown.body);
    });

    it("another tenant's DELETE is 404, exactly as for an id that does not exist, and cancels nothing", async () => {
      const id = await park();
      const theirs = await call(api.url, 'DELETE', `/v1/approvals/${id}`, { token: globex });
      const unknown = await call(api.url, 'DELETE', `/v1/approvals/${unknownId()}`, { token: globex });
      expect(theirs.status).toBe(404);
      expect(theirs.body).toMatchObject({ error: 'not_found' });
      expect(theirs.body).toEqual(unknown.body);
      expect(await status(id)).toBe('pending');
    });

    it("another tenant's token request is invalid_grant, exactly as for an unknown auth_req_id, even once approved", async () => {
      const id = await park();
      expect((await vote(id, (await mint(id)).token)).status).toBe(200);
      const theirs = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: globex });
      const unknown = await call(api.url, 'POST', `/v1/approvals/${unknownId()}/token`, { token: globex });
      expect(theirs.status).toBe(400);
      expect(theirs.body).toMatchObject({ error: 'invalid_grant' });
      expect(theirs.body).toEqual(unknown.body);
      // The rightful tenant still gets its token: the other tenant's attempt consumed nothing.
      expect((await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: acme })).status).toBe(200);
    });

    it("a link cannot be minted for another tenant's request", async () => {
      const id = await park();
      await expect(mint(id, 'bob', 'other')).rejects.toBeInstanceOf(NotFound);
    });

    it("a link signed for another tenant finds nothing on this tenant's request", async () => {
      const id = await park();
      const token = await api.app
        .get(SigningKeys)
        .sign(
          { tenant: 'globex', auth_req_id: id },
          { typ: APPROVER_LINK_TYP, audience: APPROVER_LINK_AUDIENCE, subject: 'bob', expiresAt: new Date(Date.now() + 60_000), jti: randomUUID() },
        );
      const res = await vote(id, token);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: 'not_found' });
      expect(await status(id)).toBe('pending');
    });

    it('a link used on a different request id is 403 and counts no vote there', async () => {
      const first = await park();
      const second = await park();
      const res = await vote(second, (await mint(first)).token);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden' });
      expect(await status(second)).toBe('pending');
      expect(await status(first)).toBe('pending');
    });
  });

  describe('public endpoints', () => {
    it('/.well-known/jwks.json needs no credential and holds no private key material', async () => {
      const res = await call(api.url, 'GET', '/.well-known/jwks.json');
      expect(res.status).toBe(200);
      expect(res.body.keys.length).toBeGreaterThan(0);
      for (const key of res.body.keys) {
        expect(key).toMatchObject({ kid: expect.any(String), alg: expect.any(String), kty: expect.any(String) });
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) expect(key).not.toHaveProperty(secret);
      }
    });

    it('/health/live needs no credential', async () => {
      const res = await call(api.url, 'GET', '/health/live');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });
  });
});
