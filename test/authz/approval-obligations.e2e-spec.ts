/**
 * Conjunctive approval obligations end to end: a published policy set where two permits each ask
 * for human approval (1 of finance, 2 of security). /v1/authorize lists both obligations, the
 * parked request carries both approver sets, and it is approved (and its token redeemable) only
 * when every set has its quorum, each person counting in one set only. Also the park API's
 * `obligation.approver_sets` for gateways that bring their own obligations.
 */
import { randomUUID } from 'node:crypto';
import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

// Seeded groups: finance = bob, carol, dave; security = erin, dave.
const POLICIES = {
  'finance-approval': `@reason("finance_approval") @obligation("human_approval") @approvers("group:finance") @quorum("1")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server == "payments" };`,
  'security-approval': `@reason("security_approval") @obligation("human_approval") @approvers("group:security") @quorum("2")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server == "payments" };`,
};

describe('several approval obligations are all required (conjunctive)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let agent: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken('acme', 'gateway-1');
    agent = await agentToken({ human: 'alice', actors: ['pay-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*'] } });
    expect(granted.status).toBe(201);
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } });
    expect(published.status).toBe(201);
  });
  afterAll(() => env.teardown());

  const authorize = () =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 10, to: 'DE89370400440532013000' } },
        intent: { category: 'pay' },
        reason: 'pay the invoice',
        correlation: { mcp_session_id: `sess-${randomUUID()}` },
      },
    });
  const status = (id: string) => call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
  const redeem = (id: string) => call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
  const approve = (id: string, approverId: string, viaGroup: string) =>
    voteAs(api, { approvalId: id, approverId, decision: 'approve', reason: `approved by ${approverId}`, viaGroup });

  it('lists each approval obligation in the response and the audit, and parks one request with both approver sets', async () => {
    const res = await authorize();
    expect(res.status).toBe(202);
    expect(res.body.verdict).toBe('allow_with_obligations');
    const approvals = res.body.obligations.filter((o: { type: string }) => o.type === 'human_approval');
    expect(approvals).toEqual([
      expect.objectContaining({ approvers: ['group:finance'], quorum: 1 }),
      expect.objectContaining({ approvers: ['group:security'], quorum: 2 }),
    ]);
    const [audit] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND approval_id = $1`, [
      res.body.auth_req_id,
    ]);
    expect(audit.data.obligations).toEqual(res.body.obligations);
    const view = await status(res.body.auth_req_id);
    expect(view.body.obligation.approver_sets).toEqual([
      expect.objectContaining({ approvers: ['group:finance'], quorum: 1, approvals: 0, met: false }),
      expect.objectContaining({ approvers: ['group:security'], quorum: 2, approvals: 0, met: false }),
    ]);
  });

  it('stays pending while the security set lacks its quorum, however many finance approvers approve; approved once it has it', async () => {
    const res = await authorize();
    expect(res.status).toBe(202);
    const id = res.body.auth_req_id;

    // Two finance approvals: under a merged "2 of finance or security" this would have been approved.
    expect((await approve(id, 'bob', 'finance')).body).toMatchObject({ status: 'pending' });
    expect((await approve(id, 'carol', 'finance')).body).toMatchObject({ status: 'pending' });
    // One of two from security: still pending.
    expect((await approve(id, 'erin', 'security')).body).toMatchObject({ status: 'pending' });

    const pending = await status(id);
    expect(pending.body.status).toBe('pending');
    expect(pending.body.obligation.approver_sets).toEqual([
      expect.objectContaining({ quorum: 1, approvals: 1, met: true }),
      expect.objectContaining({ quorum: 2, approvals: 1, met: false }),
    ]);
    const early = await redeem(id);
    expect(early.status).toBe(400);
    expect(early.body.error).toBe('authorization_pending');

    // dave is in both groups and reached through his finance link: he counts (once) for security.
    const last = await approve(id, 'dave', 'finance');
    expect(last.status).toBe(200);
    expect(last.body).toMatchObject({ status: 'approved' });
    expect(last.body.approver_sets).toEqual([expect.objectContaining({ met: true }), expect.objectContaining({ approvals: 2, met: true })]);

    await sleep(1100); // the poll interval
    const redeemed = await redeem(id);
    expect(redeemed.status).toBe(200);
    expect(typeof redeemed.body.approval_token).toBe('string');
  });

  it('counts a person named in two sets in one set only', async () => {
    const id = (await authorize()).body.auth_req_id;
    // dave (finance and security) and erin (security): three approvals are needed, two people have given them.
    // dave counts for finance or for security, never both: one set is still owed.
    expect((await approve(id, 'dave', 'security')).body).toMatchObject({ status: 'pending' });
    expect((await approve(id, 'erin', 'security')).body).toMatchObject({ status: 'pending' });
    const sets = (await status(id)).body.obligation.approver_sets;
    expect(sets.map((s: { approvals: number }) => s.approvals)).toEqual([1, 1]);
    expect(sets.map((s: { met: boolean }) => s.met)).toEqual([true, false]);
    // bob can only count for finance, so dave is credited to security: every set is met.
    expect((await approve(id, 'bob', 'finance')).body).toMatchObject({ status: 'approved' });
  });

  it('is denied by one denial from any set', async () => {
    const id = (await authorize()).body.auth_req_id;
    expect((await approve(id, 'bob', 'finance')).body).toMatchObject({ status: 'pending' });
    const denied = await voteAs(api, { approvalId: id, approverId: 'erin', decision: 'deny', reason: 'not this one', viaGroup: 'security' });
    expect(denied.body).toMatchObject({ status: 'denied' });
  });

  describe('the park API: obligation.approver_sets', () => {
    const park = (obligation: Record<string, unknown>) => {
      const body = parkBody();
      body.obligation = { expires_in: 600, ...obligation };
      return call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
    };

    it('parks several sets and approves only when each has its quorum', async () => {
      const body = parkBody();
      body.obligation = { approver_sets: [{ approvers: ['user:bob'] }, { approvers: ['user:carol', 'user:erin'], quorum: 2 }] };
      const id = await parkApproval(api, gateway, body);
      const view = await status(id);
      expect(view.body.obligation).toMatchObject({ approvers: ['user:bob', 'user:carol', 'user:erin'], quorum: 3 });
      expect(view.body.obligation.approver_sets).toEqual([
        { approvers: ['user:bob'], quorum: 1, escalate_to: [], independent_approvers: false, approvals: 0, met: false },
        { approvers: ['user:carol', 'user:erin'], quorum: 2, escalate_to: [], independent_approvers: false, approvals: 0, met: false },
      ]);
      for (const who of ['carol', 'erin']) {
        expect((await voteAs(api, { approvalId: id, approverId: who, decision: 'approve', reason: 'ok' })).body).toMatchObject({ status: 'pending' });
      }
      expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' })).body).toMatchObject({ status: 'approved' });
    });

    it('keeps the one-set form (approvers and quorum) valid', async () => {
      const res = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2 });
      expect(res.status).toBe(200);
      const view = await status(res.body.auth_req_id);
      expect(view.body.obligation.approver_sets).toEqual([expect.objectContaining({ approvers: ['user:bob', 'user:carol'], quorum: 2 })]);
    });

    it.each([
      ['both forms at once', { approvers: ['user:bob'], approver_sets: [{ approvers: ['user:carol'] }] }, 'obligation.approver_sets'],
      ['a top-level quorum with sets', { quorum: 2, approver_sets: [{ approvers: ['user:carol'] }] }, 'obligation.quorum'],
      ['neither form', {}, 'obligation.approvers'],
      ['an empty list of sets', { approver_sets: [] }, 'obligation.approver_sets'],
      [
        'a set quorum above its named approvers',
        { approver_sets: [{ approvers: ['user:bob'] }, { approvers: ['user:carol'], quorum: 2 }] },
        'obligation.approver_sets[1].quorum',
      ],
      [
        'sets that need more distinct people than they name',
        { approver_sets: [{ approvers: ['user:bob'] }, { approvers: ['user:bob'] }] },
        'obligation.approver_sets',
      ],
      [
        'sets whose groups cannot fill every set with each person once',
        { approver_sets: [{ approvers: ['group:security'], quorum: 2 }, { approvers: ['user:erin'] }] },
        'obligation.approver_sets',
      ],
      [
        'an unknown approver in a set',
        { approver_sets: [{ approvers: ['user:bob'] }, { approvers: ['user:nobody'] }] },
        'obligation.approver_sets[1].approvers[0]',
      ],
    ])('refuses %s with a 400 naming the field', async (_name, obligation, field) => {
      const res = await park(obligation);
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
    });
  });
});
