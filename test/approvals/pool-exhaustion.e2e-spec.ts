/**
 * A transaction that holds a pooled connection must never wait for a second one: with as many
 * such transactions in flight as the pool has connections, every one of them waits for a
 * connection none will give back, and the process stops answering anything that needs the
 * database. Two paths did: a vote by a group member (the membership was read inside the vote's
 * locked transaction) and a redeem (the call's re-evaluation read delegations, the directory and
 * the policy set inside the redeem's locked transaction). Here the pool has two connections and
 * six of each run at once; every one must be answered, and correctly.
 */
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { addApprovers } from '../support/directory';
import { agentToken, gatewayToken } from '../support/keys';

const AT_ONCE = 6;

/** Resolves with `work`, or rejects after `ms`: a hang is a failure, not a jest timeout. */
function within<T>(ms: number, work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms: the pool is exhausted`)), ms).unref()),
  ]);
}

describe('with a pool of two connections, concurrent votes and redeems are all answered', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ DATABASE_POOL_SIZE: '2' });
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  it('six group members voting at once on six requests', async () => {
    const ids: string[] = [];
    for (let i = 0; i < AT_ONCE; i++) {
      ids.push(await parkApproval(api, gateway, parkBody({ obligation: { approvers: ['group:finance'], quorum: 1, binding_message: 'Pay 25,000 EUR' } })));
    }
    const votes = await within(
      20_000,
      Promise.all(ids.map((approvalId) => voteAs(api, { approvalId, approverId: 'bob', viaGroup: 'finance', decision: 'approve', reason: 'checked' }))),
    );
    expect(votes.map((v) => [v.status, v.body.status])).toEqual(ids.map(() => [200, 'approved']));
  });

  it('six approved calls redeemed at once, each judged again', async () => {
    const admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    const published = await call(api.url, 'POST', '/v1/policies', {
      token: admin,
      body: {
        activate: true,
        policies: {
          pay: `@reason("payment_needs_approval")
@obligation("human_approval")
@approvers("delegator")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`,
        },
      },
    });
    expect(published.status).toBe(201);

    const ids: string[] = [];
    for (let i = 0; i < AT_ONCE; i++) {
      const human = `pool-alice-${i}`;
      const agent = `spiffe://acme.example/agents/pool-payer-${i}`;
      await addApprovers(env.db.url, 'acme', [human]);
      expect((await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human, agent, tools: ['payments/*'] } })).status).toBe(201);
      const parked = await call(api.url, 'POST', '/v1/authorize', {
        token: gateway,
        body: {
          agent: { token: await agentToken({ human, actors: [agent] }) },
          action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 250, currency: 'EUR' } },
          reason: 'invoice due',
          correlation: { mcp_session_id: `pool-session-${i}` },
        },
      });
      expect(parked.status).toBe(202);
      const id = parked.body.auth_req_id as string;
      expect((await voteAs(api, { approvalId: id, approverId: human, decision: 'approve', reason: 'ok' })).body.status).toBe('approved');
      ids.push(id);
    }

    const redeemed = await within(20_000, Promise.all(ids.map((id) => call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway }))));
    expect(redeemed.map((r) => [r.status, typeof r.body.approval_token])).toEqual(ids.map(() => [200, 'string']));
    // Each token exactly once.
    const again = await call(api.url, 'POST', `/v1/approvals/${ids[0]}/token`, { token: gateway });
    expect(again.body.error).toBe('invalid_grant');
  });
});
