import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { DataSource } from 'typeorm';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { AuditEvent } from '../../src/audit/audit-event.entity';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Computed here, independently of the service: SHA-256 (base64url) of RFC 8785 JSON of {server, tool, arguments}. */
function expectedCallHash(call: { server: string; tool: string; arguments: unknown }): string {
  const jcs = canonicalize({ server: call.server, tool: call.tool, arguments: call.arguments })!;
  return createHash('sha256').update(jcs, 'utf8').digest('base64url');
}

describe('CIBA poll: POST /v1/approvals/:id/token', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gw: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ APPROVAL_POLL_INTERVAL: '1' });
    gw = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  async function park(overrides: Record<string, any> = {}, token = gw): Promise<string> {
    const res = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody(overrides) });
    expect(res.status).toBe(200);
    return res.body.auth_req_id;
  }
  const poll = (id: string, token = gw) => call(api.url, 'POST', `/v1/approvals/${id}/token`, { token });
  async function vote(id: string, approverId: string, decision: 'approve' | 'deny', reason: string) {
    const link = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId });
    const res = await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: link.token, body: { decision, reason } });
    expect(res.status).toBe(200);
    return res.body;
  }

  it('answers authorization_pending with the interval while the request is pending', async () => {
    const id = await park();
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'authorization_pending', interval: 1 });
  });

  it('answers slow_down with a grown interval to a poll sooner than the interval, and the interval stays grown', async () => {
    const id = await park();
    expect((await poll(id)).body.error).toBe('authorization_pending');
    const second = await poll(id);
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ error: 'slow_down', interval: 6 });

    // 1.2 s later would be fine under the original 1 s interval, but not under the grown one.
    await sleep(1200);
    const third = await poll(id);
    expect(third.body.error).toBe('slow_down');
    expect(third.body.interval).toBeGreaterThanOrEqual(6);
    const view = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gw });
    expect(view.body.interval).toBeGreaterThanOrEqual(6);
  });

  it('answers expired_token once the request has expired', async () => {
    const id = await park({ obligation: { approvers: ['user:bob'], expires_in: 1 } });
    await sleep(1100);
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('expired_token');
    // And keeps answering so.
    expect((await poll(id)).body.error).toBe('expired_token');
  });

  it('answers access_denied with every denial (approver and reason) when the approvers deny', async () => {
    const id = await park({ obligation: { approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 2, deny_threshold: 2 } });
    await vote(id, 'bob', 'deny', 'amount exceeds the monthly budget');
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
    expect((await call(api.url, 'DELETE', `/v1/approvals/${id}`, { token: gw })).status).toBe(200);
    const res = await poll(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
    expect(res.body.denials).toBeUndefined();
  });

  it('issues an approval token once approved, bound to the exact call and verifiable against the JWKS', async () => {
    const body = parkBody({ obligation: { approvers: ['user:bob', 'user:carol'], quorum: 2 } });
    const id = await park(body);
    await vote(id, 'bob', 'approve', 'invoice matches the purchase order');
    await vote(id, 'carol', 'approve', 'budget confirmed');

    const res = await poll(id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ auth_req_id: id, token_type: 'Bearer' });
    expect(res.body.expires_in).toBeGreaterThan(0);
    const token: string = res.body.approval_token;

    const jwksRes = await call(api.url, 'GET', '/.well-known/jwks.json');
    expect(jwksRes.status).toBe(200);
    const header = decodeProtectedHeader(token);
    expect(header.typ).toBe('countersign-approval+jwt');
    expect(jwksRes.body.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);

    const { payload } = await jwtVerify(token, createLocalJWKSet(jwksRes.body), {
      issuer: api.config.PUBLIC_URL,
      audience: 'gateway-1',
      typ: 'countersign-approval+jwt',
    });
    expect(payload.sub).toBe('alice');
    expect(payload.act).toEqual({
      sub: 'spiffe://acme.example/agents/payment-agent',
      act: { sub: 'spiffe://acme.example/agents/orchestrator' },
    });
    expect(payload.auth_req_id).toBe(id);
    expect(typeof payload.jti).toBe('string');
    expect(payload.jti!.length).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);

    const hash = expectedCallHash(body.tool_call);
    expect(payload.call_hash).toBe(hash);
    const changed = { ...body.tool_call, arguments: { ...body.tool_call.arguments, amount: 25001 } };
    expect(expectedCallHash(changed)).not.toBe(payload.call_hash);

    expect(payload.approvals).toEqual([
      expect.objectContaining({ approver: 'bob', reason: 'invoice matches the purchase order' }),
      expect.objectContaining({ approver: 'carol', reason: 'budget confirmed' }),
    ]);

    const audit = await api.app.get(DataSource).manager.find(AuditEvent, { where: { approvalId: id, type: 'approval.token_redeemed' } });
    expect(audit).toHaveLength(1);
    expect(audit[0].data).toMatchObject({ jti: payload.jti, call_hash: hash });
  });

  it('a second redemption of the same auth_req_id is invalid_grant', async () => {
    const id = await park();
    await vote(id, 'bob', 'approve', 'fine');
    expect((await poll(id)).status).toBe(200);
    const again = await poll(id);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('an unknown or malformed auth_req_id is invalid_grant', async () => {
    const unknown = await poll('A'.repeat(32));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
    const malformed = await poll('not-an-id');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_grant');
  });

  it("another tenant's auth_req_id is invalid_grant, even once approved", async () => {
    const id = await park();
    await vote(id, 'bob', 'approve', 'fine');
    const other = await tenantToken('globex', 'gateway-1');
    const res = await poll(id, other);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    // The owner can still redeem it: the foreign poll consumed nothing.
    expect((await poll(id)).status).toBe(200);
  });
});
