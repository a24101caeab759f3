import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, requestRow } from '../support/callback-server';
import { StatementsTogether } from '../../src/common/database/statements-together';

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

  it('parks made at once each land whole, their statements sharing round trips (StatementsTogether)', async () => {
    const token = await tenantToken();
    const run = jest.spyOn(StatementsTogether.prototype, 'run');
    let ids: string[];
    try {
      ids = await Promise.all(Array.from({ length: 20 }, () => parkApproval(api, token, parkBody())));
      expect(run.mock.calls.filter(([s]) => s.sql.startsWith('WITH parked AS'))).toHaveLength(20);
    } finally {
      run.mockRestore();
    }
    for (const id of ids) {
      expect((await requestRow(env.db.url, id)).status).toBe('pending');
      expect((await auditTypes(env.db.url, id)).map((e) => e.type)).toContain('approval.created');
    }
  });
});
