/**
 * Batch review over the API (issue 15), against the running service: one approver's pending
 * requests from one agent for one task, listed with every argument and decided each or all alike,
 * one vote per request through the same decision as a single vote, each with its own audit event.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { BatchLinks } from '../../src/approvals/batch/batch-links.service';
import { APPROVER_BATCH_AUDIENCE, APPROVER_BATCH_TYP } from '../../src/common/auth/approver-link.verifier';
import { SigningKeys } from '../../src/common/keys/signing-keys.service';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { requestRow, sql } from '../support/callback-server';

describe('batch review (API)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let acme: string;
  let globex: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    acme = await tenantToken('acme');
    globex = await tenantToken('globex');
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
  });

  const AGENT = 'spiffe://acme.example/agents/payment-agent';
  /** Parks a call of the payment agent for this task, with these approvers and arguments. */
  const park = (task: string | undefined, opts: { approvers?: string[]; amount?: number; token?: string; agent?: string; session?: string } = {}) => {
    const base = parkBody();
    return parkApproval(
      api,
      opts.token ?? acme,
      parkBody({
        tool_call: {
          server: 'payments-mcp',
          tool: 'transfer_funds',
          arguments: { amount: opts.amount ?? 100, currency: 'EUR', to: 'DE89370400440532013000', memo: `m-${randomUUID()}` },
        },
        agent: { ...base.agent, id: opts.agent ?? AGENT },
        intent: task === undefined ? { text: 'pay invoices', category: 'pay' } : { id: task, text: 'pay invoices', category: 'pay' },
        obligation: { approvers: opts.approvers ?? ['user:bob'], quorum: 1, binding_message: `Pay ${opts.amount ?? 100} EUR` },
        correlation: { mcp_session_id: opts.session ?? 'mcp-sess-1' },
      }),
    );
  };
  /** A batch link for the scope of request `id`, as bob gets it with his approver link for that request. */
  const batchLinkVia = async (id: string, approverId = 'bob', tenantId = 'acme') => {
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId, approvalId: id, approverId });
    const res = await call(api.url, 'POST', `/v1/approvals/${id}/batch-link`, { token });
    expect(res.status).toBe(200);
    return res.body as { token: string; url: string; expires_at: string };
  };
  const votes = (ids: string[]) =>
    sql<{ approval_id: string; approver_id: string; decision: string; reason: string; link_id: string }>(
      env.db.url,
      `SELECT approval_id, approver_id, decision, reason, link_id FROM approval_votes WHERE approval_id = ANY($1) ORDER BY id`,
      [ids],
    );
  const voteEvents = (ids: string[]) =>
    sql<{ approval_id: string; actor: string; data: Record<string, any> }>(
      env.db.url,
      `SELECT approval_id, actor, data FROM audit_events WHERE type = 'approval.vote' AND approval_id = ANY($1) ORDER BY id`,
      [ids],
    );
  const batchVotes = (token: string, body: unknown) => call(api.url, 'POST', '/v1/approvals/batch/votes', { token, body });

  it("lists the approver's pending calls of one agent and task with every argument, and nothing outside them", async () => {
    const task = `task-${randomUUID()}`;
    const ids = [await park(task, { amount: 101 }), await park(task, { amount: 102 }), await park(task, { amount: 103 })];
    const otherTask = await park(`task-${randomUUID()}`);
    const otherAgent = await park(task, { agent: 'spiffe://acme.example/agents/other' });
    const notBobs = await park(task, { approvers: ['user:carol'] });
    const link = await batchLinkVia(ids[0]);
    expect(link.url).toContain('/approve/batch?link=');
    const claims = decodeJwt(link.token);
    expect(claims).toMatchObject({ sub: 'bob', tenant: 'acme', agent: AGENT, task });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(15 * 60);

    const res = await call(api.url, 'GET', '/v1/approvals/batch', { token: link.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ approver_id: 'bob', agent_id: AGENT, task_id: task });
    expect(res.body.items.map((i: any) => i.auth_req_id)).toEqual(ids);
    expect(res.body.items.map((i: any) => i.tool_call.arguments.amount)).toEqual([101, 102, 103]);
    expect(res.body.items[0]).toMatchObject({
      binding_message: 'Pay 101 EUR',
      delegator_id: 'alice',
      call_hash: expect.any(String),
      votes: { approve: 0, deny: 0 },
    });
    expect(res.body.items[0].tool_call.arguments).toEqual(expect.objectContaining({ currency: 'EUR', to: 'DE89370400440532013000', memo: expect.any(String) }));
    for (const outside of [otherTask, otherAgent, notBobs]) expect(res.body.items.map((i: any) => i.auth_req_id)).not.toContain(outside);
  });

  it('decides each with its own decision and reason (or the shared one): one vote per request, each with its own audit event', async () => {
    const task = `task-${randomUUID()}`;
    const [a, b, c] = [await park(task), await park(task), await park(task)];
    const link = await batchLinkVia(a);
    const res = await batchVotes(link.token, {
      reason: 'shared: invoices checked against the POs',
      decisions: [
        { auth_req_id: a, decision: 'approve', reason: 'own: INV-1 matches PO-1' },
        { auth_req_id: b, decision: 'deny' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.recorded).toBe(2);
    expect(res.body.refused).toBe(0);
    expect(res.body.results).toEqual([
      expect.objectContaining({ auth_req_id: a, outcome: 'recorded', status: 'approved', your_vote: 'approve' }),
      expect.objectContaining({ auth_req_id: b, outcome: 'recorded', status: 'denied', your_vote: 'deny' }),
    ]);
    const jti = decodeJwt(link.token).jti;
    expect(await votes([a, b, c])).toEqual([
      { approval_id: a, approver_id: 'bob', decision: 'approve', reason: 'own: INV-1 matches PO-1', link_id: `${jti}:${a}` },
      { approval_id: b, approver_id: 'bob', decision: 'deny', reason: 'shared: invoices checked against the POs', link_id: `${jti}:${b}` },
    ]);
    const events = await voteEvents([a, b, c]);
    expect(events.map((e) => [e.approval_id, e.actor, e.data.decision, e.data.reason, e.data.link_id])).toEqual([
      [a, 'approver:bob', 'approve', 'own: INV-1 matches PO-1', `${jti}:${a}`],
      [b, 'approver:bob', 'deny', 'shared: invoices checked against the POs', `${jti}:${b}`],
    ]);
    expect((await requestRow(env.db.url, c)).status).toBe('pending');
    // What is left in the batch is the one not decided.
    const left = await call(api.url, 'GET', '/v1/approvals/batch', { token: link.token });
    expect(left.body.items.map((i: any) => i.auth_req_id)).toEqual([c]);
  });

  it('decides all alike with one reason: every listed request gets the same vote', async () => {
    const task = `task-${randomUUID()}`;
    const ids = [await park(task), await park(task), await park(task)];
    const link = await batchLinkVia(ids[1]);
    const res = await batchVotes(link.token, { all: 'approve', auth_req_ids: ids, reason: 'the weekly supplier run' });
    expect(res.status).toBe(200);
    expect(res.body.recorded).toBe(3);
    expect(res.body.results.map((r: any) => [r.auth_req_id, r.outcome, r.status])).toEqual(ids.map((id) => [id, 'recorded', 'approved']));
    expect((await votes(ids)).map((v) => [v.approval_id, v.decision, v.reason])).toEqual(ids.map((id) => [id, 'approve', 'the weekly supplier run']));
    expect((await voteEvents(ids)).map((e) => e.approval_id)).toEqual(ids);
    for (const id of ids) expect((await requestRow(env.db.url, id)).status).toBe('approved');
  });

  it('reports an ineligible, a settled and an already-voted request per item and leaves them untouched, without undoing the valid votes', async () => {
    const task = `task-${randomUUID()}`;
    const good1 = await park(task);
    const notBobs = await park(task, { approvers: ['user:carol'] });
    const settled = await park(task);
    const good2 = await park(task);
    const link = await batchLinkVia(good1);
    // Settled before the batch's vote arrives: the gateway withdrew it.
    expect((await call(api.url, 'DELETE', `/v1/approvals/${settled}`, { token: acme })).status).toBe(200);
    const first = await batchVotes(link.token, { all: 'deny', auth_req_ids: [good1, notBobs, settled, good2], reason: 'not this week' });
    expect(first.status).toBe(200);
    expect(first.body.recorded).toBe(2);
    expect(first.body.refused).toBe(2);
    expect(first.body.results).toEqual([
      expect.objectContaining({ auth_req_id: good1, outcome: 'recorded', status: 'denied' }),
      expect.objectContaining({ auth_req_id: notBobs, outcome: 'refused', error: 'forbidden', error_description: 'bob is not an approver of this request' }),
      expect.objectContaining({ auth_req_id: settled, outcome: 'refused', error: 'request_closed', status: 'cancelled' }),
      expect.objectContaining({ auth_req_id: good2, outcome: 'recorded', status: 'denied' }),
    ]);
    expect((await votes([notBobs, settled])).length).toBe(0);
    expect((await voteEvents([notBobs, settled])).length).toBe(0);
    expect((await requestRow(env.db.url, notBobs)).status).toBe('pending');
    expect((await requestRow(env.db.url, settled)).status).toBe('cancelled');
    // Voting again on a request bob decided: reported, one vote stays one vote.
    const again = await batchVotes(link.token, { decisions: [{ auth_req_id: good1, decision: 'approve', reason: 'changed my mind' }] });
    expect(again.body.results[0]).toMatchObject({ auth_req_id: good1, outcome: 'refused', error: 'request_closed', status: 'denied' });
    expect((await votes([good1])).map((v) => v.decision)).toEqual(['deny']);
  });

  it("keeps tenants apart: another tenant's request (same agent and task) is neither listed nor decided through an acme batch link", async () => {
    const task = `task-${randomUUID()}`;
    const mine = await park(task);
    const theirs = await park(task, { token: globex });
    const link = await batchLinkVia(mine);
    const list = await call(api.url, 'GET', '/v1/approvals/batch', { token: link.token });
    expect(list.body.items.map((i: any) => i.auth_req_id)).toEqual([mine]);
    const res = await batchVotes(link.token, { all: 'approve', auth_req_ids: [theirs, mine], reason: 'ok' });
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toEqual({
      auth_req_id: theirs,
      outcome: 'refused',
      error: 'not_found',
      error_description: 'no such approval request in this batch',
    });
    expect(res.body.results[1]).toMatchObject({ auth_req_id: mine, outcome: 'recorded' });
    expect(await votes([theirs])).toEqual([]);
    expect((await requestRow(env.db.url, theirs)).status).toBe('pending');
    // The other way round: globex's batch link sees only globex's request.
    const theirLink = await batchLinkVia(theirs, 'bob', 'globex');
    const theirList = await call(api.url, 'GET', '/v1/approvals/batch', { token: theirLink.token });
    expect(theirList.body.items.map((i: any) => i.auth_req_id)).toEqual([theirs]);
  });

  it('decides 50 calls in one post, each its own vote (time printed)', async () => {
    const task = `task-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await park(task, { amount: 1000 + i }));
    const link = await batchLinkVia(ids[0]);
    const listed = Date.now();
    const list = await call(api.url, 'GET', '/v1/approvals/batch', { token: link.token });
    const listMs = Date.now() - listed;
    expect(list.body.items).toHaveLength(50);
    const started = Date.now();
    const res = await batchVotes(link.token, { all: 'approve', auth_req_ids: ids, reason: 'month-end run' });
    const voteMs = Date.now() - started;
    expect(res.body.recorded).toBe(50);
    expect((await votes(ids)).length).toBe(50);
    expect((await voteEvents(ids)).length).toBe(50);
    console.log(`batch of 50: list ${listMs} ms, all-alike vote ${voteMs} ms (${(voteMs / 50).toFixed(1)} ms per vote)`);
  });

  it('groups calls that name no task by their MCP session', async () => {
    const session = `sess-${randomUUID()}`;
    const ids = [await park(undefined, { session }), await park(undefined, { session })];
    await park(undefined, { session: `sess-${randomUUID()}` });
    const link = await batchLinkVia(ids[0]);
    expect(decodeJwt(link.token)).toMatchObject({ mcp_session: session });
    const list = await call(api.url, 'GET', '/v1/approvals/batch', { token: link.token });
    expect(list.body).toMatchObject({ mcp_session_id: session });
    expect(list.body.items.map((i: any) => i.auth_req_id)).toEqual(ids);
  });

  it('a bad body is a 400 naming the field, and records nothing', async () => {
    const task = `task-${randomUUID()}`;
    const id = await park(task);
    const { token } = await batchLinkVia(id);
    const cases: [unknown, string][] = [
      [{ all: 'approve', auth_req_ids: [id] }, 'reason'],
      [{ all: 'approve', reason: 'ok' }, 'auth_req_ids'],
      [{ decisions: [{ auth_req_id: id, decision: 'maybe', reason: 'ok' }] }, 'decisions.0.decision'],
      [{ decisions: [{ auth_req_id: 'not-an-id', decision: 'approve', reason: 'ok' }] }, 'decisions.0.auth_req_id'],
      [{ decisions: [{ auth_req_id: id, decision: 'approve' }] }, 'decisions.0.reason'],
      [
        {
          decisions: [
            { auth_req_id: id, decision: 'approve', reason: 'a' },
            { auth_req_id: id, decision: 'deny', reason: 'b' },
          ],
        },
        'decisions.1.auth_req_id',
      ],
      [{ decisions: [{ auth_req_id: id, decision: 'approve', reason: 'ok' }], all: 'deny' }, 'all'],
      [{ reason: 'ok' }, 'decisions'],
      [{ decisions: [{ auth_req_id: id, decision: 'approve', reason: 'ok' }], weight: 3 }, 'weight'],
      [{ all: 'approve', auth_req_ids: Array.from({ length: 101 }, () => id), reason: 'ok' }, 'auth_req_ids'],
    ];
    for (const [body, field] of cases) {
      const res = await batchVotes(token, body);
      expect([res.status, res.body.error, res.body.field]).toEqual([400, 'invalid_request', field]);
    }
    expect(await votes([id])).toEqual([]);
  });

  it('takes only a batch link: an approver link, a forged or expired batch link is 401; a batch link decides nothing alone', async () => {
    const task = `task-${randomUUID()}`;
    const id = await park(task);
    const { token: single } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    expect((await call(api.url, 'GET', '/v1/approvals/batch', { token: single })).status).toBe(401);
    expect((await batchVotes(single, { all: 'approve', auth_req_ids: [id], reason: 'ok' })).status).toBe(401);
    const { token: batch } = await api.app.get(BatchLinks).mint('acme', 'bob', { agentId: AGENT, taskId: task });
    // Nor does a batch link pass for an approver link.
    expect((await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: batch, body: { decision: 'approve', reason: 'ok' } })).status).toBe(401);
    const expired = await api.app
      .get(SigningKeys)
      .sign(
        { tenant: 'acme', agent: AGENT, task },
        { typ: APPROVER_BATCH_TYP, audience: APPROVER_BATCH_AUDIENCE, subject: 'bob', expiresAt: new Date(Date.now() - 1000), jti: randomUUID() },
      );
    expect((await call(api.url, 'GET', '/v1/approvals/batch', { token: expired })).status).toBe(401);
    const [h, p, s] = batch.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(batch), tenant: 'globex' })).toString('base64url')}.${s}`;
    expect(p).not.toBe(forged.split('.')[1]);
    expect((await call(api.url, 'GET', '/v1/approvals/batch', { token: forged })).status).toBe(401);
    // A single link for another request cannot get a batch link for this one.
    const other = await park(task);
    expect((await call(api.url, 'POST', `/v1/approvals/${other}/batch-link`, { token: single })).status).toBe(403);
    expect(await votes([id, other])).toEqual([]);
  });
});
