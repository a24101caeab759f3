import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, requestRow, sleep, sql } from '../support/callback-server';

/** Computed here, independently of the service: SHA-256 (base64url) of the RFC 8785 JSON of {server, tool, arguments}. */
function expectedCallHash(toolCall: { server: string; tool: string; arguments: unknown }): string {
  const jcs = canonicalize({ server: toolCall.server, tool: toolCall.tool, arguments: toolCall.arguments });
  if (jcs === undefined) throw new Error('not canonicalizable');
  return createHash('sha256').update(jcs, 'utf8').digest('base64url');
}

describe('CIBA poll: POST /v1/approvals/:id/token', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ APPROVAL_POLL_INTERVAL: '1' });
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  async function park(obligation: Record<string, any> = {}, body = parkBody()): Promise<string> {
    body.obligation = { ...body.obligation, ...obligation };
    return parkApproval(api, gateway, body);
  }

  const poll = (id: string, token = gateway) => call(api.url, 'POST', `/v1/approvals/${id}/token`, { token });

  async function vote(id: string, approverId: string, decision: 'approve' | 'deny', reason: string) {
    const res = await voteAs(api, { approvalId: id, approverId, decision, reason });
    expect(res.status).toBe(200);
    return res.body;
  }

  it('answers authorization_pending with the interval while the request is pending', async () => {
    const id = await park();
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'authorization_pending', interval: 1 });
  });

  it('answers slow_down with the interval grown by 5 s to a poll sooner than the interval, and the interval stays grown', async () => {
    const id = await park();
    expect((await poll(id)).body).toMatchObject({ error: 'authorization_pending', interval: 1 });
    const second = await poll(id);
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ error: 'slow_down', interval: 6 });

    // 1.2 s later is fine under the original 1 s interval, but not under the grown one.
    await sleep(1200);
    const third = await poll(id);
    expect(third.status).toBe(400);
    expect(third.body.error).toBe('slow_down');
    expect(third.body.interval).toBeGreaterThanOrEqual(6);
    const view = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
    expect(view.body.interval).toBe(third.body.interval);
  });

  it('answers expired_token once the request has expired, and keeps answering so', async () => {
    const id = await park({ expires_in: 1 });
    await sleep(1100);
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('expired_token');
    expect((await requestRow(env.db.url, id)).status).toBe('expired');
    expect((await poll(id)).body.error).toBe('expired_token');
  });

  it('an approved request whose time ran out before redemption is expired_token, and no token is issued', async () => {
    const id = await park();
    await vote(id, 'bob', 'approve', 'ok');
    await sql(env.db.url, `UPDATE approval_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('expired_token');
    expect(res.body.approval_token).toBeUndefined();
    expect((await requestRow(env.db.url, id)).token_redeemed_at).toBeNull();
    const events = await auditTypes(env.db.url, id);
    expect(events.filter((e) => e.type === 'approval.token_redeemed')).toHaveLength(0);
  });

  it('answers access_denied with every denial (approver and reason) when the approvers deny', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 2, deny_threshold: 2 });
    await vote(id, 'bob', 'deny', 'amount exceeds the monthly budget');
    await vote(id, 'dave', 'approve', 'looks fine to me');
    await vote(id, 'carol', 'deny', 'vendor not on the allow-list');
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
    expect(res.body.denials).toEqual([
      { approver: 'bob', reason: 'amount exceeds the monthly budget' },
      { approver: 'carol', reason: 'vendor not on the allow-list' },
    ]);
  });

  it('answers access_denied for a cancelled request', async () => {
    const id = await park();
    expect((await call(api.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway })).status).toBe(200);
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
    expect(res.body.denials).toBeUndefined();
  });

  describe('once approved', () => {
    const body = parkBody();
    let id: string;
    let res: Awaited<ReturnType<typeof poll>>;
    let jwks: { keys: { kid: string }[] };

    beforeAll(async () => {
      id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2 }, body);
      await vote(id, 'bob', 'approve', 'invoice matches the purchase order');
      await vote(id, 'carol', 'approve', 'budget confirmed');
      res = await poll(id);
      jwks = (await call(api.url, 'GET', '/.well-known/jwks.json')).body;
    });

    it('answers 200 with the approval token', () => {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ auth_req_id: id, approval_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number) });
      expect(res.body.expires_in).toBeGreaterThan(0);
      expect(res.body.expires_in).toBeLessThanOrEqual(120);
    });

    it('the token header names a key of the JWKS and the approval-token typ', () => {
      const header = decodeProtectedHeader(res.body.approval_token);
      expect(header.typ).toBe('countersign-approval+jwt');
      expect(header.alg).toBe('ES256');
      expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    });

    it('verifies against the JWKS with iss, aud = the gateway, sub = the delegator, the act chain, auth_req_id, jti and a short life', async () => {
      const { payload } = await jwtVerify(res.body.approval_token, createLocalJWKSet(jwks as any), {
        issuer: api.config.PUBLIC_URL,
        audience: 'gateway-1',
        typ: 'countersign-approval+jwt',
      });
      expect(payload.iss).toBe(api.config.PUBLIC_URL);
      expect(payload.aud).toBe('gateway-1');
      expect(payload.sub).toBe('alice');
      // The agent outermost, then the chain from its own token's claims.
      expect(payload.act).toEqual({
        sub: 'spiffe://acme.example/agents/payment-agent',
        act: { sub: 'spiffe://acme.example/agents/orchestrator' },
      });
      expect(payload.auth_req_id).toBe(id);
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.jti!.length).toBeGreaterThan(0);
      expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
      expect(payload.exp! - payload.iat!).toBe(res.body.expires_in);
      expect(payload.approvals).toEqual([
        expect.objectContaining({ approver: 'bob', reason: 'invoice matches the purchase order' }),
        expect.objectContaining({ approver: 'carol', reason: 'budget confirmed' }),
      ]);
    });

    it('call_hash is the SHA-256 of the canonical {server, tool, arguments}, and a changed argument hashes differently', async () => {
      const { payload } = await jwtVerify(res.body.approval_token, createLocalJWKSet(jwks as any));
      const hash = expectedCallHash(body.tool_call);
      expect(payload.call_hash).toBe(hash);
      // Key order does not matter to the canonical form…
      const reordered = {
        tool: body.tool_call.tool,
        arguments: { to: body.tool_call.arguments.to, currency: 'EUR', amount: 25000 },
        server: body.tool_call.server,
      };
      expect(expectedCallHash(reordered)).toBe(hash);
      // …but any changed argument does.
      expect(expectedCallHash({ ...body.tool_call, arguments: { ...body.tool_call.arguments, amount: 25001 } })).not.toBe(payload.call_hash);
      expect(expectedCallHash({ ...body.tool_call, tool: 'transfer_funds_v2' })).not.toBe(payload.call_hash);
    });

    it('records an approval.token_redeemed audit event with the jti and the call hash', async () => {
      const { payload } = await jwtVerify(res.body.approval_token, createLocalJWKSet(jwks as any));
      const events = await auditTypes(env.db.url, id);
      const redeemed = events.filter((e) => e.type === 'approval.token_redeemed');
      expect(redeemed).toHaveLength(1);
      expect(redeemed[0].actor).toBe('gateway:gateway-1');
      expect(redeemed[0].data).toMatchObject({ jti: payload.jti, call_hash: expectedCallHash(body.tool_call) });
      expect((await requestRow(env.db.url, id)).token_redeemed_at).not.toBeNull();
    });

    it('a second redemption of the same auth_req_id is invalid_grant', async () => {
      const again = await poll(id);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_grant');
      expect(again.body.approval_token).toBeUndefined();
    });
  });

  it('twenty concurrent redemptions of one approved request issue exactly one token', async () => {
    const id = await park();
    await vote(id, 'bob', 'approve', 'ok');
    const results = await Promise.all(Array.from({ length: 20 }, () => poll(id)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(r.body.error).toBe('invalid_grant');
    const events = await auditTypes(env.db.url, id);
    expect(events.filter((e) => e.type === 'approval.token_redeemed')).toHaveLength(1);
    // Each redeem judged the call again, but only the one that issued the token recorded it.
    expect(events.filter((e) => e.type === 'approval.reevaluated')).toHaveLength(1);
  });

  it('an unknown auth_req_id and a malformed one are invalid_grant', async () => {
    const unknown = await poll('A'.repeat(32));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
    const malformed = await poll('not-an-id');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_grant');
  });

  it("another tenant's auth_req_id is invalid_grant, even once approved, and its poll consumes nothing", async () => {
    const id = await park();
    await vote(id, 'bob', 'approve', 'ok');
    const res = await poll(id, await tenantToken('globex', 'gateway-1'));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect((await poll(id)).status).toBe(200);
  });
});
