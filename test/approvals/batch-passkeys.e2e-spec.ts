/**
 * A batch vote signed with one passkey assertion (issue 15), against the running service: the
 * batch challenge binds every item (request, call, decision, reason); the signed batch records each
 * vote with the assertion and its place in the signed list (which verifies offline); and an
 * assertion over another list, a replayed one or one of another purpose is refused with nothing recorded.
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { BatchPasskeyChallenges1764230000000 } from '../../migrations/1764230000000-batch-passkey-challenges';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { checkPasskeyEvidence, signedDecision, VoteEvidence } from '../../src/approvals/passkeys/passkey-proof';
import { callHash } from '../../src/common/canonical-json';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { requestRow, sql } from '../support/callback-server';
import { SoftAuthenticator } from '../support/soft-authenticator';

const ORIGIN = 'http://localhost:3000'; // PUBLIC_URL's default: RP id localhost
const AGENT = 'spiffe://acme.example/agents/payment-agent';

describe('batch review: one passkey assertion signs the whole batch', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let acme: string;
  let bob: SoftAuthenticator;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    acme = await tenantToken('acme');
    // Bob's passkey, registered with an approver link (his first: the link alone).
    const token = await approverLink(await park(`task-${randomUUID()}`), 'bob');
    bob = new SoftAuthenticator(ORIGIN);
    const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token });
    expect((await call(api.url, 'POST', '/v1/passkeys', { token, body: { response: bob.register(options.body) } })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
  });

  const toolCall = (amount: number) => ({
    server: 'payments-mcp',
    tool: 'transfer_funds',
    arguments: { amount, currency: 'EUR', to: 'DE89370400440532013000', memo: `m-${randomUUID()}` },
  });
  /** Parks a call of the payment agent for this task; with `passkey`, its policy asks for a passkey-signed decision. */
  async function park(task: string, opts: { amount?: number; passkey?: boolean; approver?: string; calls?: Map<string, ReturnType<typeof toolCall>> } = {}) {
    const base = parkBody();
    const tool_call = toolCall(opts.amount ?? 100);
    const id = await parkApproval(
      api,
      acme,
      parkBody({
        tool_call,
        agent: { ...base.agent, id: AGENT },
        intent: { id: task, text: 'pay invoices', category: 'pay' },
        obligation: { approvers: [`user:${opts.approver ?? 'bob'}`], quorum: 1, binding_message: 'Pay' },
      }),
    );
    if (opts.passkey) await sql(env.db.url, `UPDATE approval_requests SET proof = 'passkey' WHERE id = $1`, [id]);
    opts.calls?.set(id, tool_call);
    return id;
  }
  const approverLink = async (id: string, approverId = 'bob') =>
    (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId })).token;
  const batchLink = async (id: string, approverId = 'bob') =>
    (await call(api.url, 'POST', `/v1/approvals/${id}/batch-link`, { token: await approverLink(id, approverId) })).body.token as string;
  const challenge = (token: string, items: unknown[]) => call(api.url, 'POST', '/v1/approvals/batch/passkey-challenge', { token, body: { items } });
  const batchVotes = (token: string, body: unknown) => call(api.url, 'POST', '/v1/approvals/batch/votes', { token, body });
  const votes = (ids: string[]) =>
    sql<{ approval_id: string; decision: string; reason: string; passkey: VoteEvidence | null }>(
      env.db.url,
      `SELECT approval_id, decision, reason, passkey FROM approval_votes WHERE approval_id = ANY($1) ORDER BY id`,
      [ids],
    );
  const voteEvents = (ids: string[]) =>
    sql<{ approval_id: string; data: { decision: string; reason: string; passkey?: VoteEvidence } }>(
      env.db.url,
      `SELECT approval_id, data FROM audit_events WHERE type = 'approval.vote' AND approval_id = ANY($1) ORDER BY id`,
      [ids],
    );

  it('records every item that needs a passkey with the one assertion, and each vote verifies offline as an item of the signed list', async () => {
    const task = `task-${randomUUID()}`;
    const calls = new Map<string, ReturnType<typeof toolCall>>();
    const [a, b] = [await park(task, { passkey: true, amount: 101, calls }), await park(task, { passkey: true, amount: 102, calls })];
    const token = await batchLink(a);
    const decisions = [
      { auth_req_id: a, decision: 'approve', reason: 'INV-1 matches PO-1' },
      { auth_req_id: b, decision: 'deny', reason: 'no PO for this one' },
    ];
    // Without a passkey both are refused, as before.
    const plain = await batchVotes(token, { decisions });
    expect(plain.body.results.map((r: { error: string }) => r.error)).toEqual(['passkey_required', 'passkey_required']);

    const issued = await challenge(token, decisions);
    expect(issued.status).toBe(200);
    const sorted = [...decisions].sort((x, y) => (x.auth_req_id < y.auth_req_id ? -1 : 1));
    expect(issued.body.bound).toEqual({
      tenant: 'acme',
      approver: 'bob',
      items: sorted.map((d) => ({ ...d, call_hash: callHash(calls.get(d.auth_req_id)!) })),
      nonce: expect.any(String),
    });
    expect(issued.body.options).toMatchObject({
      challenge: issued.body.challenge,
      userVerification: 'required',
      allowCredentials: [expect.objectContaining({ id: bob.credentialId })],
    });

    // The items in another order than the challenge's: the binding sorts them.
    const res = await batchVotes(token, { decisions: [...decisions].reverse(), passkey: bob.assert(issued.body.options) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ recorded: 2, refused: 0 });
    expect((await requestRow(env.db.url, a)).status).toBe('approved');
    expect((await requestRow(env.db.url, b)).status).toBe('denied');

    const rows = await votes([a, b]);
    expect(rows).toHaveLength(2);
    const events = await voteEvents([a, b]);
    expect(events).toHaveLength(2);
    for (const [row, event] of rows.map((r) => [r, events.find((e) => e.approval_id === r.approval_id)!] as const)) {
      expect(row.passkey).toMatchObject({
        format: 'webauthn-batch-assertion/v1',
        credential_id: bob.credentialId,
        bound: issued.body.bound,
        user_verified: true,
      });
      expect(event.data.passkey).toEqual(row.passkey);
      const evidence = event.data.passkey!;
      // Offline: the assertion proves the list, and this vote's item in it is this request, call, decision and reason.
      expect(checkPasskeyEvidence(evidence, { callHash: callHash(calls.get(row.approval_id)!) })).toEqual([]);
      expect(signedDecision(evidence)).toMatchObject({ auth_req_id: row.approval_id, decision: event.data.decision, reason: event.data.reason });
      expect(checkPasskeyEvidence(evidence, { callHash: callHash(calls.get(row.approval_id === a ? b : a)!) })).not.toEqual([]);
      if (evidence.format !== 'webauthn-batch-assertion/v1') throw new Error('not a batch proof');
      const edited = { ...evidence, bound: { ...evidence.bound, items: evidence.bound.items.map((i) => ({ ...i, reason: 'something else' })) } };
      expect(checkPasskeyEvidence(edited)).toContain('challenge: is not base64url(SHA-256(canonical JSON of bound))');
      expect(checkPasskeyEvidence({ ...evidence, item: 2 })).toContain('item: is not a position in bound.items');
    }
  });

  it('refuses an assertion over another list (a reason, a decision, an extra or a missing item) and records nothing', async () => {
    const task = `task-${randomUUID()}`;
    const [a, b, c] = [await park(task, { passkey: true }), await park(task, { passkey: true }), await park(task, { passkey: true })];
    const token = await batchLink(a);
    const signedList = [
      { auth_req_id: a, decision: 'approve', reason: 'checked' },
      { auth_req_id: b, decision: 'approve', reason: 'checked' },
    ];
    const assertion = bob.assert((await challenge(token, signedList)).body.options);
    for (const [decisions, mismatched] of [
      [[signedList[0], { ...signedList[1], reason: 'another reason' }], [`${b}.reason`]],
      [[signedList[0], { ...signedList[1], decision: 'deny' }], [`${b}.decision`]],
      [[...signedList, { auth_req_id: c, decision: 'approve', reason: 'checked' }], ['items']],
      [[signedList[0]], ['items']],
      [[signedList[0], { ...signedList[1], auth_req_id: c }], ['items']],
    ] as const) {
      const res = await batchVotes(token, { decisions, passkey: assertion });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'passkey_mismatch', field: 'passkey', mismatched });
    }
    // `all` with one reason is the same list only when every decision and reason agree.
    const all = await batchVotes(token, { all: 'approve', auth_req_ids: [a, b], reason: 'checked twice', passkey: assertion });
    expect(all.body).toMatchObject({ error: 'passkey_mismatch', mismatched: [`${a}.reason`, `${b}.reason`].sort() });
    expect(await votes([a, b, c])).toEqual([]);
    expect(await voteEvents([a, b, c])).toEqual([]);
    // The refusals used nothing up: the assertion still signs exactly its own list.
    const same = await batchVotes(token, { all: 'approve', auth_req_ids: [b, a], reason: 'checked', passkey: assertion });
    expect(same.body).toMatchObject({ recorded: 2, refused: 0 });
  });

  it('refuses a replayed assertion, and an assertion over a single decision challenge, with nothing recorded', async () => {
    const task = `task-${randomUUID()}`;
    const [a, b] = [await park(task, { passkey: true }), await park(task, { passkey: true })];
    const token = await batchLink(a);
    const decisions = [{ auth_req_id: a, decision: 'approve', reason: 'ok' }];
    const body = { decisions, passkey: bob.assert((await challenge(token, decisions)).body.options) };
    expect((await batchVotes(token, body)).body).toMatchObject({ recorded: 1 });
    const replay = await batchVotes(token, body);
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ error: 'passkey_challenge_unknown', field: 'passkey' });
    expect((await votes([a])).length).toBe(1);

    // A single decision's challenge signed for b is no batch challenge (and a batch's is no single one).
    const single = await call(api.url, 'POST', `/v1/approvals/${b}/passkey-challenge`, {
      token: await approverLink(b),
      body: { decision: 'approve', reason: 'ok' },
    });
    const wrongKind = await batchVotes(token, { decisions: [{ auth_req_id: b, decision: 'approve', reason: 'ok' }], passkey: bob.assert(single.body.options) });
    expect(wrongKind.body).toMatchObject({ error: 'passkey_challenge_unknown' });
    const batchOfB = bob.assert((await challenge(token, [{ auth_req_id: b, decision: 'approve', reason: 'ok' }])).body.options);
    const asSingle = await call(api.url, 'POST', `/v1/approvals/${b}/decisions`, {
      token: await approverLink(b),
      body: { decision: 'approve', reason: 'ok', passkey: batchOfB },
    });
    expect(asSingle.body).toMatchObject({ error: 'passkey_challenge_unknown' });
    expect(await votes([b])).toEqual([]);
  });

  it('issues a batch challenge only for pending requests of the batch, to an approver with a passkey', async () => {
    const task = `task-${randomUUID()}`;
    const a = await park(task);
    const elsewhere = await park(`task-${randomUUID()}`);
    const token = await batchLink(a);
    const outside = await challenge(token, [{ auth_req_id: elsewhere, decision: 'approve', reason: 'ok' }]);
    expect(outside.status).toBe(404);
    const twice = await challenge(token, [
      { auth_req_id: a, decision: 'approve', reason: 'ok' },
      { auth_req_id: a, decision: 'deny', reason: 'no' },
    ]);
    expect(twice.body).toMatchObject({ error: 'invalid_request', field: 'items.1.auth_req_id' });
    expect((await challenge(token, [{ auth_req_id: a, decision: 'approve' }])).body.field).toBe('items.0.reason');
    expect((await challenge(await approverLink(a), [{ auth_req_id: a, decision: 'approve', reason: 'ok' }])).status).toBe(401);
    await sql(env.db.url, `UPDATE approval_requests SET status = 'cancelled' WHERE id = $1`, [a]);
    const closed = await challenge(token, [{ auth_req_id: a, decision: 'approve', reason: 'ok' }]);
    expect(closed.status).toBe(409);
    // Carol has no passkey: nothing to sign with.
    const carols = await park(task, { approver: 'carol' });
    const none = await challenge(await batchLink(carols, 'carol'), [{ auth_req_id: carols, decision: 'approve', reason: 'ok' }]);
    expect(none.body).toMatchObject({ error: 'invalid_request', field: 'passkey' });
    expect((await sql(env.db.url, `SELECT count(*)::int AS n FROM passkey_challenges WHERE approver_id = 'carol'`))[0].n).toBe(0);
  });
  it('the migration goes down (batch challenges go with it) and up again', async () => {
    const task = `task-${randomUUID()}`;
    const a = await park(task);
    const token = await batchLink(a);
    const items = [{ auth_req_id: a, decision: 'approve', reason: 'ok' }];
    expect((await challenge(token, items)).status).toBe(200);
    const open = `SELECT count(*)::int AS n FROM passkey_challenges WHERE purpose = 'batch_decision'`;
    expect((await sql(env.db.url, open))[0].n).toBeGreaterThan(0);
    const db = new DataSource({ type: 'postgres', url: env.db.url });
    await db.initialize();
    const runner = db.createQueryRunner();
    try {
      await new BatchPasskeyChallenges1764230000000().down(runner);
      expect((await sql(env.db.url, open))[0].n).toBe(0);
      expect((await challenge(token, items)).status).toBe(500);
      await new BatchPasskeyChallenges1764230000000().up(runner);
    } finally {
      await runner.release();
      await db.destroy();
    }
    expect((await challenge(token, items)).status).toBe(200);
  });
});
