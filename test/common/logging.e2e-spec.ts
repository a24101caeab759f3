import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { eventually, sql } from '../support/callback-server';

/** Structured JSON logs with the request id (also in the audit events), and no secret ever written. */
describe('logs', () => {
  let env: TestEnvironment;
  let api: TestApp;
  const lines: string[] = [];
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ LOG_LEVEL: 'verbose', LOG_FORMAT: 'json' });
    const write = process.stdout.write.bind(process.stdout);
    spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: any[]) => {
      lines.push(String(chunk));
      return write(chunk, ...rest);
    });
  });
  afterAll(async () => {
    spy.mockRestore();
    await env.teardown();
  });

  const json = () =>
    lines
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('every line is one JSON object; each request has an access line with its request id, also in the response and the audit', async () => {
    const gateway = await tenantToken('acme');
    const res = await call(api.url, 'POST', '/v1/approvals', {
      token: gateway,
      body: parkBody({ correlation: {} }),
      headers: { 'x-request-id': 'gw-req-4711' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('gw-req-4711');
    await eventually(async () => json().some((l) => l.msg === 'request' && l.request_id === 'gw-req-4711'));
    const access = json().find((l) => l.msg === 'request' && l.request_id === 'gw-req-4711');
    expect(access).toMatchObject({
      level: 'info',
      service: 'countersign',
      method: 'POST',
      path: '/v1/approvals',
      status: 200,
      ms: expect.any(Number),
      time: expect.any(String),
    });
    const [created] = await sql(env.db.url, `SELECT request_id FROM audit_events WHERE approval_id = $1 AND type = 'approval.created'`, [res.body.auth_req_id]);
    expect(created.request_id).toBe('gw-req-4711');

    const generated = await call(api.url, 'GET', '/health/live', { headers: { 'x-request-id': 'bad id with spaces and "quotes"' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('no token, link, cookie or secret reaches the log, whatever the request and its errors', async () => {
    const gateway = await tenantToken('acme');
    const admin = await adminToken();
    const parked = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody() });
    const id = parked.body.auth_req_id;
    const link = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    await fetch(link.url.replace(api.config.PUBLIC_URL, api.url), { headers: { cookie: 'countersign_admin=cookie-secret-123' } });
    await fetch(`${api.url}/approve/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `link=${link.token}&csrf=forged-csrf-456&reason=x&decision=approve`,
    });
    await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: link.token, body: { decision: 'approve', reason: 'ok' } });
    await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
    await call(api.url, 'GET', '/v1/approvers', { token: admin });
    await call(api.url, 'GET', '/v1/approvals/' + id, { token: `${gateway.slice(0, -4)}AAAA` });
    await call(api.url, 'POST', '/v1/approvals', { token: gateway, rawBody: '{"not json' });
    const body = parkBody();
    body.delivery = { mode: 'ping', notification_endpoint: 'https://evil.example/cb', notification_token: 'callback-secret-789' };
    await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
    await eventually(async () => json().filter((l) => l.msg === 'request').length >= 9);

    const all = lines.join('');
    for (const secret of [
      gateway,
      admin,
      link.token,
      'cookie-secret-123',
      'forged-csrf-456',
      'callback-secret-789',
      gateway.split('.')[2],
      link.token.split('.')[2],
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    expect(json().some((l) => l.msg === 'request' && l.path === `/approve/${id}`)).toBe(true);
  });
});
