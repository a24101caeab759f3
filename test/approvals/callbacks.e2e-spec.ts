import { createRemoteJWKSet, jwtVerify } from 'jose';
import { APPROVAL_TOKEN_TYP } from '../../src/approvals/approval-tokens.service';
import { HostResolver } from '../../src/common/host-resolver';
import { callHash } from '../../src/common/canonical-json';
import type { ResolvedAddress } from '../../src/common/host-allow-list';
import { INTERNAL_NAME_ANSWERS } from '../support/fake-dns';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { attemptRows, auditTypes, CallbackServer, eventually, requestRow, silent, sleep, sql, status } from '../support/callback-server';
import { DeliverCallback } from '../../src/approvals/deliver-callback.usecase';

const MAX_ATTEMPTS = 4;
const BACKOFF_MS = 50;
// Attempts 1..4 with exponential backoff of 50, 100, 200 ms: all done well within this.
const RETRY_WINDOW_MS = 1000;

describe('ping and push callbacks', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let server: CallbackServer;
  let gateway: string;
  let path = 0;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({
      CALLBACK_BACKOFF_MS: String(BACKOFF_MS),
      CALLBACK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      CALLBACK_TIMEOUT_MS: '300',
    });
    server = await CallbackServer.start();
    gateway = await tenantToken();
  });
  afterAll(async () => {
    await env.teardown();
    await server.close();
  });

  /** A fresh callback path per request, so each test reads only its own deliveries. */
  const freshPath = () => `/callbacks/${++path}`;

  async function park(app: TestApp, mode: 'ping' | 'push', endpoint: string, notificationToken: string, expiresIn?: number): Promise<string> {
    const body = parkBody({ delivery: { mode, notification_endpoint: endpoint, notification_token: notificationToken } });
    if (expiresIn) body.obligation = { ...body.obligation, expires_in: expiresIn };
    return parkApproval(app, gateway, body);
  }

  async function decide(app: TestApp, id: string, decision: 'approve' | 'deny', reason: string, approverId = 'bob') {
    const res = await voteAs(app, { approvalId: id, approverId, decision, reason });
    expect(res.status).toBe(200);
    return res.body;
  }

  const settledCallback = (id: string) =>
    eventually(async () => {
      const row = await requestRow(env.db.url, id);
      return row.callback_state === 'delivered' || row.callback_state === 'failed' ? row : undefined;
    });

  describe('ping mode', () => {
    it('posts exactly {auth_req_id} with the notification token as bearer, then the gateway redeems at the token endpoint', async () => {
      const p = freshPath();
      const id = await park(api, 'ping', server.on(p, status(204)), 'ping-token-1');
      expect(server.requestsTo(p)).toHaveLength(0);

      await decide(api, id, 'approve', 'invoice checked');
      const [ping] = await eventually(async () => server.requestsTo(p).length > 0 && server.requestsTo(p));
      expect(ping.method).toBe('POST');
      expect(ping.headers.authorization).toBe('Bearer ping-token-1');
      expect(ping.headers['content-type']).toMatch(/^application\/json/);
      expect(ping.body).toEqual({ auth_req_id: id });

      expect((await settledCallback(id)).callback_state).toBe('delivered');
      const redeemed = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(redeemed.status).toBe(200);
      expect(redeemed.body).toMatchObject({ auth_req_id: id, token_type: 'Bearer' });
      expect(typeof redeemed.body.approval_token).toBe('string');

      const attempts = await attemptRows(env.db.url, id);
      expect(attempts).toEqual([expect.objectContaining({ attempt: 1, mode: 'ping', outcome: 'delivered', status_code: 204 })]);
      const audit = await auditTypes(env.db.url, id);
      const delivered = audit.filter((e) => e.type === 'approval.callback_delivered');
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({ actor: 'system', data: { mode: 'ping', attempt: 1, outcome: 'delivered', status_code: 204 } });
    });

    it('a cancelled request sends no callback', async () => {
      const p = freshPath();
      const id = await park(api, 'ping', server.on(p, status(200)), 'ping-token-cancel');
      const cancelled = await call(api.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled' });

      await sleep(RETRY_WINDOW_MS);
      expect(server.requestsTo(p)).toHaveLength(0);
      expect(await requestRow(env.db.url, id)).toMatchObject({ status: 'cancelled', callback_state: 'none' });
      expect(await attemptRows(env.db.url, id)).toEqual([]);
    });
  });

  describe('push mode', () => {
    it('an approval pushes a signed approval token that verifies against the JWKS, and the token endpoint then says invalid_grant', async () => {
      const p = freshPath();
      const id = await park(api, 'push', server.on(p, status(200)), 'push-token-1');
      await decide(api, id, 'approve', 'looks right');

      const [push] = await eventually(async () => server.requestsTo(p).length > 0 && server.requestsTo(p));
      expect(push.headers.authorization).toBe('Bearer push-token-1');
      expect(push.body).toMatchObject({ auth_req_id: id, status: 'approved', token_type: 'Bearer', expires_in: api.config.APPROVAL_TOKEN_TTL });

      const jwks = createRemoteJWKSet(new URL(`${api.url}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(push.body.approval_token, jwks, {
        issuer: api.config.PUBLIC_URL,
        audience: 'gateway-1',
        typ: APPROVAL_TOKEN_TYP,
        algorithms: ['ES256'],
      });
      expect(protectedHeader.alg).toBe('ES256');
      const body = parkBody();
      expect(payload).toMatchObject({
        auth_req_id: id,
        sub: 'alice',
        call_hash: callHash(body.tool_call),
        act: { sub: body.agent.id },
        approvals: [expect.objectContaining({ approver: 'bob', reason: 'looks right' })],
      });
      expect(typeof payload.jti).toBe('string');

      expect((await settledCallback(id)).callback_state).toBe('delivered');
      const redeem = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(redeem.status).toBe(400);
      expect(redeem.body.error).toBe('invalid_grant');
    });

    it('an approved push request whose token has not gone out yet is still invalid_grant at the token endpoint, and nothing is issued there', async () => {
      const p = freshPath();
      const id = await park(api, 'push', server.on(p, status(503)), 'push-token-pending');
      await decide(api, id, 'approve', 'fine');
      // The push keeps failing, so the request is approved and its token not yet delivered.
      const redeem = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(redeem.status).toBe(400);
      expect(redeem.body.error).toBe('invalid_grant');
      expect(redeem.body.approval_token).toBeUndefined();
      const types = (await auditTypes(env.db.url, id)).map((e) => e.type);
      expect(types).toContain('approval.approved');
      expect(types).not.toContain('approval.token_redeemed');
    });

    it("a denial pushes access_denied with the approvers' reasons", async () => {
      const p = freshPath();
      const id = await park(api, 'push', server.on(p, status(200)), 'push-token-2');
      await decide(api, id, 'deny', 'wrong beneficiary');

      const [push] = await eventually(async () => server.requestsTo(p).length > 0 && server.requestsTo(p));
      expect(push.headers.authorization).toBe('Bearer push-token-2');
      expect(push.body).toMatchObject({
        auth_req_id: id,
        status: 'denied',
        error: 'access_denied',
        denials: [{ approver: 'bob', reason: 'wrong beneficiary' }],
      });
      expect(push.body.approval_token).toBeUndefined();
      expect((await settledCallback(id)).callback_state).toBe('delivered');
      const redeem = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(redeem.body.error).toBe('invalid_grant');
    });

    it('an expiry pushes expired_token', async () => {
      const p = freshPath();
      const id = await park(api, 'push', server.on(p, status(200)), 'push-token-3', 1);
      const [push] = await eventually(async () => server.requestsTo(p).length > 0 && server.requestsTo(p), 8000);
      expect(push.body).toMatchObject({ auth_req_id: id, status: 'expired', error: 'expired_token' });
      expect(push.body.approval_token).toBeUndefined();
      expect(await settledCallback(id)).toMatchObject({ status: 'expired', callback_state: 'delivered' });
    });
  });

  describe('failure handling', () => {
    it('503 twice then 200 is delivered on attempt 3, each attempt recorded', async () => {
      const p = freshPath();
      const id = await park(
        api,
        'ping',
        server.on(p, (res, n) => {
          res.writeHead(n <= 2 ? 503 : 200);
          res.end();
        }),
        'tok',
      );
      await decide(api, id, 'approve', 'ok');

      expect((await settledCallback(id)).callback_state).toBe('delivered');
      expect(server.requestsTo(p)).toHaveLength(3);
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
        [1, 'retrying', 503],
        [2, 'retrying', 503],
        [3, 'delivered', 200],
      ]);
      // The retries are spaced by the backoff, not fired back to back.
      const [a, b, c] = server.requestsTo(p).map((r) => r.at);
      expect(b - a).toBeGreaterThanOrEqual(BACKOFF_MS - 10);
      expect(c - b).toBeGreaterThanOrEqual(2 * BACKOFF_MS - 10);

      const audit = (await auditTypes(env.db.url, id)).map((e) => e.type);
      expect(audit.filter((t) => t === 'approval.callback_attempt')).toHaveLength(2);
      expect(audit.filter((t) => t === 'approval.callback_delivered')).toHaveLength(1);
    });

    const recordedKeys = async (id: string) =>
      (await sql<{ idempotency_key: string }>(env.db.url, `SELECT idempotency_key FROM callback_attempts WHERE approval_id = $1 ORDER BY id`, [id])).map(
        (r) => r.idempotency_key,
      );

    it('every attempt of one callback carries the same Idempotency-Key, recorded with each attempt; another callback carries another', async () => {
      const p = freshPath();
      const id = await park(
        api,
        'push',
        server.on(p, (res, n) => {
          res.writeHead(n === 1 ? 503 : 200);
          res.end();
        }),
        'tok',
      );
      const other = freshPath();
      const otherId = await park(api, 'push', server.on(other, status(200)), 'tok');
      await decide(api, id, 'approve', 'ok');
      await decide(api, otherId, 'approve', 'ok');

      expect((await settledCallback(id)).callback_state).toBe('delivered');
      expect((await settledCallback(otherId)).callback_state).toBe('delivered');
      const keys = server.requestsTo(p).map((r) => r.headers['idempotency-key']);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^"cb_[A-Za-z0-9_-]{32}"$/);
      expect(keys[1]).toBe(keys[0]);
      const [otherKey] = server.requestsTo(other).map((r) => r.headers['idempotency-key']);
      expect(otherKey).toMatch(/^"cb_[A-Za-z0-9_-]{32}"$/);
      expect(otherKey).not.toBe(keys[0]);

      const bare = (keys[0] as string).slice(1, -1);
      expect(await recordedKeys(id)).toEqual([bare, bare]);
      const audit = (await auditTypes(env.db.url, id)).filter((e) => e.type.startsWith('approval.callback_'));
      expect(audit.map((e) => e.data.idempotency_key)).toEqual([bare, bare]);
    });

    it('a delivery whose record is lost (the database failed after the gateway answered) is resent with the same Idempotency-Key', async () => {
      const p = freshPath();
      const id = await park(api, 'ping', server.on(p, status(200)), 'tok');
      const original = (DeliverCallback.prototype as any).record;
      const record = jest.spyOn(DeliverCallback.prototype as any, 'record');
      let lost = 0;
      // The gateway got the first POST and answered 200; recording it then fails, as when Postgres goes down.
      record.mockImplementation(async function (this: DeliverCallback, ...args: any[]) {
        if (args[0].id === id && args[2] === 'delivered' && lost++ === 0) throw new Error('Connection terminated unexpectedly');
        return original.apply(this, args);
      });
      try {
        await decide(api, id, 'approve', 'ok');
        expect((await settledCallback(id)).callback_state).toBe('delivered');
      } finally {
        record.mockRestore();
      }
      const requests = server.requestsTo(p);
      expect(requests).toHaveLength(2);
      expect(requests[1].headers['idempotency-key']).toBe(requests[0].headers['idempotency-key']);
      expect(requests[0].headers['idempotency-key']).toMatch(/^"cb_/);
      // The lost attempt left no row; the resend is the one recorded delivery, under the same key.
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts.map((a) => a.outcome)).toEqual(['delivered']);
      expect(await recordedKeys(id)).toEqual([(requests[0].headers['idempotency-key'] as string).slice(1, -1)]);
    });

    it.each([401, 403])('%i is one attempt, failed, never retried', async (code) => {
      const p = freshPath();
      const id = await park(api, 'ping', server.on(p, status(code)), 'rejected-token');
      await decide(api, id, 'approve', 'ok');

      expect((await settledCallback(id)).callback_state).toBe('failed');
      await sleep(RETRY_WINDOW_MS);
      expect(server.requestsTo(p)).toHaveLength(1);
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: code })]);
      expect(attempts[0].error).toContain(String(code));
      const audit = await auditTypes(env.db.url, id);
      expect(audit.filter((e) => e.type === 'approval.callback_attempt').map((e) => e.data.outcome)).toEqual(['failed']);
      expect(audit.some((e) => e.type === 'approval.callback_delivered')).toBe(false);
    });

    it('a 301 redirect is not followed: one attempt, failed, and the Location is never called', async () => {
      const p = freshPath();
      const elsewhere = `${p}-moved`;
      server.on(elsewhere, status(200));
      const id = await park(api, 'ping', server.on(p, status(301, { location: server.url + elsewhere })), 'tok');
      await decide(api, id, 'approve', 'ok');

      expect((await settledCallback(id)).callback_state).toBe('failed');
      await sleep(RETRY_WINDOW_MS);
      expect(server.requestsTo(p)).toHaveLength(1);
      expect(server.requestsTo(elsewhere)).toHaveLength(0);
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: 301 })]);
      expect(attempts[0].error).toMatch(/redirect/);
    });

    it('an endpoint that never answers times out and is retried, every attempt recorded', async () => {
      const p = freshPath();
      const id = await park(api, 'ping', server.on(p, silent), 'tok');
      await decide(api, id, 'approve', 'ok');

      expect((await settledCallback(id)).callback_state).toBe('failed');
      expect(server.requestsTo(p)).toHaveLength(MAX_ATTEMPTS);
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts.map((a) => a.outcome)).toEqual([...Array(MAX_ATTEMPTS - 1).fill('retrying'), 'failed']);
      for (const a of attempts) {
        expect(a.status_code).toBeNull();
        expect(a.error).toMatch(/timed out after 300 ms/);
      }
    });

    it(`an endpoint that always fails ends with callback_state failed after CALLBACK_MAX_ATTEMPTS (${MAX_ATTEMPTS}) attempts`, async () => {
      const p = freshPath();
      const id = await park(api, 'push', server.on(p, status(503)), 'tok');
      await decide(api, id, 'deny', 'no');

      expect((await settledCallback(id)).callback_state).toBe('failed');
      await sleep(RETRY_WINDOW_MS);
      expect(server.requestsTo(p)).toHaveLength(MAX_ATTEMPTS);
      const attempts = await attemptRows(env.db.url, id);
      expect(attempts.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
        [1, 'retrying', 503],
        [2, 'retrying', 503],
        [3, 'retrying', 503],
        [4, 'failed', 503],
      ]);
      const audit = (await auditTypes(env.db.url, id)).filter((e) => e.type === 'approval.callback_attempt');
      expect(audit.map((e) => e.data.attempt)).toEqual([1, 2, 3, 4]);
    });

    it('an endpoint removed from CALLBACK_ALLOWED_HOSTS after parking is refused without a request', async () => {
      // Its own environment: no other instance's workers may pick up the job.
      const own = await testEnvironment();
      try {
        const before = await own.start();
        const p = freshPath();
        const id = await park(before, 'ping', server.on(p, status(200)), 'tok');
        await before.close();

        const after = await own.start({ CALLBACK_ALLOWED_HOSTS: 'callbacks.example.com' });
        await decide(after, id, 'approve', 'ok');
        const row = await eventually(async () => {
          const r = await requestRow(own.db.url, id);
          return r.callback_state !== 'pending' && r;
        });
        expect(row).toMatchObject({ status: 'approved', callback_state: 'failed' });
        await sleep(300);
        expect(server.requestsTo(p)).toHaveLength(0);
        const attempts = await attemptRows(own.db.url, id);
        expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'refused', status_code: null })]);
        expect(attempts[0].error).toMatch(/CALLBACK_ALLOWED_HOSTS/);
        const audit = await auditTypes(own.db.url, id);
        expect(audit.filter((e) => e.type === 'approval.callback_attempt').map((e) => e.data.outcome)).toEqual(['refused']);
      } finally {
        await own.teardown();
      }
    });
  });

  describe('endpoint addresses (SSRF by name)', () => {
    const answers = INTERNAL_NAME_ANSWERS;
    let own: TestEnvironment;
    let app: TestApp;
    let lookups: string[];
    // gateway.test answers 127.0.0.1 (allowed: the list names it) the first time, then an internal
    // address: DNS rebinding. Only the first answer may ever be used for a connection.
    let gatewayAnswers: ResolvedAddress[][];
    const realResolve = HostResolver.prototype.resolve;

    beforeAll(async () => {
      jest.spyOn(HostResolver.prototype, 'resolve').mockImplementation(async function (this: HostResolver, host: string) {
        lookups.push(host);
        if (host === 'gateway.test') return gatewayAnswers.shift() ?? [{ address: '10.0.0.6', family: 4 }];
        return answers[host] ?? realResolve.call(this, host);
      });
      own = await testEnvironment();
      app = await own.start({
        CALLBACK_ALLOWED_HOSTS: 'gateway.test,internal.test,metadata.test,loopback6.test,mixed.test,127.0.0.1',
        CALLBACK_BACKOFF_MS: String(BACKOFF_MS),
        CALLBACK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      });
    });
    beforeEach(() => {
      lookups = [];
      gatewayAnswers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.0.0.6', family: 4 }]];
    });
    afterAll(async () => {
      await own.teardown();
      jest.restoreAllMocks();
    });

    it.each([
      ['internal.test', '10.0.0.5'],
      ['metadata.test', '169.254.169.254'],
      ['loopback6.test', '::1'],
      ['mixed.test', '192.168.0.10'],
    ])('an allow-listed name that resolves to an internal address (%s → %s) is refused without a request', async (host, address) => {
      const p = freshPath();
      const port = new URL(server.url).port;
      const id = await park(app, 'ping', `http://${host}:${port}${p}`, 'tok');
      await decide(app, id, 'approve', 'ok');

      const row = await eventually(async () => {
        const r = await requestRow(own.db.url, id);
        return r.callback_state !== 'pending' && r;
      });
      expect(row.callback_state).toBe('failed');
      const attempts = await attemptRows(own.db.url, id);
      expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'refused', status_code: null })]);
      expect(attempts[0].error).toContain(`resolves to ${address}`);
      expect(server.requestsTo(p)).toHaveLength(0);
    });

    it('connects to the address that was checked, with the name as Host, and never resolves the name again', async () => {
      const p = freshPath();
      const port = new URL(server.url).port;
      server.on(p, status(200));
      const id = await park(app, 'ping', `http://gateway.test:${port}${p}`, 'tok');
      await decide(app, id, 'approve', 'ok');

      const row = await eventually(async () => {
        const r = await requestRow(own.db.url, id);
        return r.callback_state !== 'pending' && r;
      });
      expect(row.callback_state).toBe('delivered');
      const [ping] = server.requestsTo(p);
      expect(ping.headers.host).toBe(`gateway.test:${port}`);
      expect(ping.body).toEqual({ auth_req_id: id });
      // One lookup for the one attempt: the second (rebound) answer was never asked for.
      expect(lookups.filter((h) => h === 'gateway.test')).toEqual(['gateway.test']);
      expect(gatewayAnswers).toHaveLength(1);
    });

    it('"localhost" on the list by name does not open loopback: the real resolver\'s answer is checked', async () => {
      jest.mocked(HostResolver.prototype.resolve).mockImplementation(realResolve);
      const local = await testEnvironment();
      try {
        const only = await local.start({ CALLBACK_ALLOWED_HOSTS: 'localhost' });
        const p = freshPath();
        const port = new URL(server.url).port;
        server.on(p, status(200));
        const id = await park(only, 'ping', `http://localhost:${port}${p}`, 'tok');
        await decide(only, id, 'approve', 'ok');
        const row = await eventually(async () => {
          const r = await requestRow(local.db.url, id);
          return r.callback_state !== 'pending' && r;
        });
        expect(row.callback_state).toBe('failed');
        const attempts = await attemptRows(local.db.url, id);
        expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'refused' })]);
        expect(attempts[0].error).toMatch(/resolves to (127\.0\.0\.1|::1)/);
        expect(server.requestsTo(p)).toHaveLength(0);
      } finally {
        await local.teardown();
      }
    });
  });
});
