import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';

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
    const id = await parkApproval(api, token, parkBody());
    const vote = await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
    expect(vote.body).toMatchObject({ status: 'approved' });
    const t = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token });
    expect(t.status).toBe(200);
  });
});
