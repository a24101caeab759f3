import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { eventually, sql } from '../support/callback-server';

/** Demo mode works out of the box: approvers to name, and their email (with the link) in the log when there is no SMTP server. */
describe('demo mode', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await testEnvironment({ directory: false });
  });
  afterAll(() => env.teardown());

  it("seeds tenant acme's approvers and groups, and delivers the tour's email to the log", async () => {
    const api = await env.start({ DEMO_MODE: 'true', LOG_LEVEL: 'log' });
    const admin = await adminToken();
    const approvers = await call(api.url, 'GET', '/v1/approvers', { token: admin });
    expect(approvers.body.approvers.map((a: { id: string }) => a.id)).toEqual(['alice', 'bob', 'carol', 'dave']);
    const groups = await call(api.url, 'GET', '/v1/approver-groups', { token: admin });
    expect(groups.body.groups.map((g: { name: string; members: string[] }) => [g.name, g.members])).toEqual([
      ['finance', ['bob', 'carol']],
      ['security', ['dave']],
    ]);

    const logged: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: any[]) => {
      logged.push(String(chunk));
      return write(chunk, ...rest);
    });
    try {
      const body = parkBody();
      body.obligation = { approvers: ['user:bob'], binding_message: 'Pay 25,000 EUR to ACME GmbH' };
      const id = await parkApproval(api, await tenantToken('acme'), body);
      await eventually(async () => (await sql(env.db.url, `SELECT status FROM notification_deliveries WHERE approval_id = $1`, [id]))[0]?.status === 'sent');
      await eventually(async () => logged.some((l) => l.includes(`email to bob@acme.example`) && l.includes(`/approve/${id}?link=`)));
    } finally {
      spy.mockRestore();
    }
    await api.close();
  });
});
