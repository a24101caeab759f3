import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';

describe('smoke', () => {
  let env: TestEnvironment;
  let api: TestApp;
  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
  });
  afterAll(() => env.teardown());

  it('parks, approves and redeems', async () => {
    const token = await tenantToken();
    const parked = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody() });
    expect(parked.status).toBe(200);
    const id = parked.body.auth_req_id;
    const link = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    const vote = await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: link.token, body: { decision: 'approve', reason: 'ok' } });
    expect(vote.body).toMatchObject({ status: 'approved' });
    const t = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token });
    expect(t.status).toBe(200);
  });
});
