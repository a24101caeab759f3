import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';

// Limits per hour: a test never straddles a window edge in practice, and nothing refills mid-test.
describe('Rate limits per gateway, per CIBA client and per approver link', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    env = await testEnvironment();
    const limits = { RATE_LIMIT_GATEWAY: '3/1h', RATE_LIMIT_CIBA_CLIENT: '2/1h', RATE_LIMIT_APPROVER_LINK: '2/1h' };
    // Two instances on one Redis: the budget is shared, not per process.
    [a, b] = await Promise.all([env.start(limits), env.start(limits)]);
  });
  afterAll(() => env.teardown());

  function expectRateLimited(res: { status: number; headers: Headers; body: any }) {
    expect(res.status).toBe(429);
    expect(res.body).toEqual({ error: 'rate_limited', error_description: expect.stringMatching(/too many requests/) });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
  }

  it('answers a gateway over its limit with 429 rate_limited and Retry-After, across instances and endpoints, and no other gateway', async () => {
    const token = await tenantToken('acme', 'gw-limited');
    const missing = '/v1/approvals/not-a-request';
    expect((await call(a.url, 'GET', missing, { token })).status).toBe(404);
    expect((await call(b.url, 'GET', missing, { token })).status).toBe(404);
    expect((await call(a.url, 'GET', missing, { token })).status).toBe(404);
    expectRateLimited(await call(b.url, 'GET', missing, { token }));
    // /v1/authorize and AuthZEN count against the same gateway.
    expectRateLimited(await call(a.url, 'POST', '/v1/authorize', { token, body: {} }));
    expectRateLimited(await call(a.url, 'POST', '/access/v1/evaluation', { token, body: {} }));
    // Another gateway of the tenant, and the same subject in another tenant, have their own budgets.
    expect((await call(a.url, 'GET', missing, { token: await tenantToken('acme', 'gw-other') })).status).toBe(404);
    expect((await call(a.url, 'GET', missing, { token: await tenantToken('globex', 'gw-limited') })).status).toBe(404);
  });

  it('does not count a request whose gateway token is refused', async () => {
    const token = await tenantToken('acme', 'gw-careful');
    for (let i = 0; i < 5; i++) expect((await call(a.url, 'GET', '/v1/approvals/x', { token: token.slice(0, -4) + 'AAAA' })).status).toBe(401);
    expect((await call(a.url, 'GET', '/v1/approvals/x', { token })).status).toBe(404);
  });

  it('limits a CIBA client once it has authenticated, on the token endpoint and bc-authorize, and keeps invalid_grant below the limit', async () => {
    const admin = await adminToken('acme', 'countersign:admin', 'idp-ciba');
    const reg = await call(a.url, 'PUT', '/v1/ciba-clients/gw-rl', {
      token: admin,
      body: { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_post' },
    });
    expect(reg.status).toBe(201);
    const post = async (app: TestApp, path: string, params: Record<string, string>) => {
      const res = await fetch(app.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    };
    const grant = { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: 'unknown-request-id', client_id: 'gw-rl' };
    // Someone without the secret cannot spend the client's budget.
    for (let i = 0; i < 3; i++) expect((await post(a, '/oauth/token', { ...grant, client_secret: 'wrong' })).status).toBe(401);
    const first = await post(a, '/oauth/token', { ...grant, client_secret: reg.body.client_secret });
    expect(first.body.error).toBe('invalid_grant');
    expect((await post(b, '/oauth/token', { ...grant, client_secret: reg.body.client_secret })).body.error).toBe('invalid_grant');
    expectRateLimited(await post(a, '/oauth/token', { ...grant, client_secret: reg.body.client_secret }));
    expectRateLimited(await post(b, '/oauth/bc-authorize', { client_id: 'gw-rl', client_secret: reg.body.client_secret, scope: 'openid', login_hint: 'bob' }));
  });

  it('limits one approver link on the page (an HTML 429) and the vote API together, and not another approver of the request', async () => {
    const id = await parkApproval(a, await tenantToken('acme', 'gw-parker'), parkBody());
    const links = a.app.get(ApproverLinks);
    const bob = (await links.mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' })).token;
    const page = (app: TestApp, token: string) => fetch(`${app.url}/approve/${id}?link=${encodeURIComponent(token)}`);
    expect((await page(a, bob)).status).toBe(200);
    expect((await page(b, bob)).status).toBe(200);
    const limited = await page(a, bob);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.text()).toContain('Too many tries');
    // A fresh link for the same approver and request shares the budget.
    const again = (await links.mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' })).token;
    expectRateLimited(await call(b.url, 'POST', `/v1/approvals/${id}/decisions`, { token: again, body: { decision: 'approve', reason: 'ok' } }));
    const carol = (await links.mint({ tenantId: 'acme', approvalId: id, approverId: 'carol' })).token;
    expect((await page(a, carol)).status).toBe(200);
  });
});

describe('A rate limit far from its edge, counted locally and sent to Redis in batches', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    env = await testEnvironment();
    const limits = { RATE_LIMIT_GATEWAY: '10/1h' };
    [a, b] = await Promise.all([env.start(limits), env.start(limits)]);
  });
  afterAll(() => env.teardown());

  it('shares the budget across instances: what one instance counted locally reaches the other, and the request over the limit is refused', async () => {
    const token = await tenantToken('acme', 'gw-batched');
    const missing = '/v1/approvals/not-a-request';
    // The first in Redis, the next three counted locally (within half the budget of 10).
    for (let i = 0; i < 4; i++) expect((await call(a.url, 'GET', missing, { token })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 200)); // a's increments go out within RATE_LIMIT_FLUSH_MS, and what a knows grows stale
    for (let i = 0; i < 6; i++) expect((await call(b.url, 'GET', missing, { token })).status).toBe(404);
    expect((await call(b.url, 'GET', missing, { token })).status).toBe(429);
    expect((await call(a.url, 'GET', missing, { token })).status).toBe(429);
  });
});
