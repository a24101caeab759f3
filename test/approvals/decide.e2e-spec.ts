import { decodeJwt } from 'jose';
import { Client } from 'pg';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { signedLink } from '../support/keys';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, requestRow, sql } from '../support/callback-server';

describe('deciding: POST /v1/approvals/:id/decisions', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  async function park(obligation: Record<string, any> = {}): Promise<string> {
    const body = parkBody();
    body.obligation = { ...body.obligation, ...obligation };
    return parkApproval(api, gateway, body);
  }

  const link = async (id: string, approverId: string, viaGroup?: string) =>
    (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId, viaGroup })).token;

  const voteWith = (token: string, id: string, body: unknown) => call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token, body });

  const vote = (id: string, approverId: string, decision: 'approve' | 'deny', reason: string, viaGroup?: string) =>
    voteAs(api, { approvalId: id, approverId, decision, reason, viaGroup });

  const view = async (id: string) => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway })).body;

  const voteRows = (id: string) =>
    sql<{ approver_id: string; decision: string; reason: string; via_group: string | null }>(
      env.db.url,
      `SELECT approver_id, decision, reason, via_group FROM approval_votes WHERE approval_id = $1 ORDER BY id`,
      [id],
    );

  /** A link signed by this service for any approver, named or not (what a stale or forged-by-insider link looks like). */
  const rawLink = (id: string, approverId: string, extra: Record<string, unknown> = {}) => signedLink(api.app, { id, approver: approverId, extra });

  describe('quorum 2 of 3', () => {
    let id: string;
    beforeAll(async () => {
      id = await park({ approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 2 });
    });

    it('the first approval leaves the request pending and the view shows the vote without its reason', async () => {
      const res = await vote(id, 'bob', 'approve', 'invoice matches PO-7');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        auth_req_id: id,
        status: 'pending',
        your_vote: 'approve',
        votes: { approve: 1, deny: 0 },
        quorum: 2,
        // One approver set (the one-set form of the obligation), with the approvals credited to it.
        approver_sets: [
          { approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 2, escalate_to: [], independent_approvers: false, approvals: 1, met: false },
        ],
      });
      const v = await view(id);
      expect(v.status).toBe('pending');
      expect(v.votes.approve).toBe(1);
      expect(v.votes.deny).toBe(0);
      expect(v.votes.cast).toHaveLength(1);
      expect(v.votes.cast[0]).toMatchObject({ approver: 'bob', decision: 'approve' });
      expect(v.votes.cast[0]).not.toHaveProperty('reason');
      expect(JSON.stringify(v)).not.toContain('invoice matches PO-7');
    });

    it('the same approver voting twice is 409 already_voted and records nothing', async () => {
      const res = await vote(id, 'bob', 'deny', 'changed my mind');
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('already_voted');
      expect(await voteRows(id)).toHaveLength(1);
    });

    it('the second approval approves it', async () => {
      const res = await vote(id, 'carol', 'approve', 'vendor is verified');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'approved', votes: { approve: 2, deny: 0 } });
      expect((await requestRow(env.db.url, id)).status).toBe('approved');
      expect((await requestRow(env.db.url, id)).decided_at).not.toBeNull();
    });

    it('once decided, the view shows every decision with its reason', async () => {
      const v = await view(id);
      expect(v.status).toBe('approved');
      expect(v.decided_at).not.toBeNull();
      expect(v.votes.cast).toEqual([
        { approver: 'bob', decision: 'approve', eligible_sets: [0], reason: 'invoice matches PO-7', at: expect.any(String) },
        { approver: 'carol', decision: 'approve', eligible_sets: [0], reason: 'vendor is verified', at: expect.any(String) },
      ]);
    });

    it('a vote after settlement is 409 request_closed with the status', async () => {
      const res = await vote(id, 'dave', 'deny', 'too late');
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ error: 'request_closed', status: 'approved' });
      expect(await voteRows(id)).toHaveLength(2);
    });

    it('the audit log has each vote with its reason and one approval.approved', async () => {
      const events = await auditTypes(env.db.url, id);
      const votes = events.filter((e) => e.type === 'approval.vote');
      expect(votes.map((e) => [e.actor, e.data.decision, e.data.reason])).toEqual([
        ['approver:bob', 'approve', 'invoice matches PO-7'],
        ['approver:carol', 'approve', 'vendor is verified'],
      ]);
      const approved = events.filter((e) => e.type === 'approval.approved');
      expect(approved).toHaveLength(1);
      expect(approved[0].actor).toBe('approver:carol');
    });
  });

  it('one deny denies by default, even with approvals outstanding', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 2 });
    const res = await vote(id, 'dave', 'deny', 'the IBAN is unknown');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'denied', votes: { approve: 0, deny: 1 } });
    expect((await requestRow(env.db.url, id)).status).toBe('denied');
    expect((await vote(id, 'bob', 'approve', 'fine')).body).toMatchObject({ error: 'request_closed', status: 'denied' });
  });

  it('with deny_threshold 2, one deny leaves the request pending and the second denies it', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 3, deny_threshold: 2 });
    expect((await vote(id, 'bob', 'deny', 'not budgeted')).body).toMatchObject({ status: 'pending', votes: { approve: 0, deny: 1 } });
    expect((await vote(id, 'carol', 'approve', 'needed')).body).toMatchObject({ status: 'pending', votes: { approve: 1, deny: 1 } });
    expect((await vote(id, 'dave', 'deny', 'agree with bob')).body).toMatchObject({ status: 'denied', votes: { approve: 1, deny: 2 } });
    const events = await auditTypes(env.db.url, id);
    expect(events.filter((e) => e.type === 'approval.denied')).toHaveLength(1);
  });

  it('an approver the obligation does not name is 403 and no vote is recorded', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 1 });
    // Minting refuses such a link…
    await expect(link(id, 'mallory')).rejects.toMatchObject({ code: 'forbidden' });
    // …and the vote endpoint checks eligibility itself.
    const res = await voteWith(await rawLink(id, 'mallory'), id, { decision: 'approve', reason: 'trust me' });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden');
    expect(await voteRows(id)).toHaveLength(0);
    expect((await requestRow(env.db.url, id)).status).toBe('pending');
  });

  it('a link for another request is 403 on this one', async () => {
    const a = await park();
    const b = await park();
    const res = await voteWith(await link(a, 'bob'), b, { decision: 'approve', reason: 'ok' });
    expect(res.status).toBe(403);
    expect(await voteRows(b)).toHaveLength(0);
  });

  it('"delegator" in the approvers lets the delegating human vote', async () => {
    const id = await park({ approvers: ['delegator'], quorum: 1 });
    const res = await vote(id, 'alice', 'approve', 'yes, I asked the agent to pay this');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('approved');
    expect(await voteRows(id)).toEqual([{ approver_id: 'alice', decision: 'approve', reason: 'yes, I asked the agent to pay this', via_group: null }]);
    // But only the delegator.
    const other = await park({ approvers: ['delegator'], quorum: 1 });
    expect((await voteWith(await rawLink(other, 'bob'), other, { decision: 'approve', reason: 'x' })).status).toBe(403);
  });

  it('a member of a named group votes through a viaGroup link; another group is 403', async () => {
    const id = await park({ approvers: ['group:finance'], quorum: 1 });
    const wrong = await voteWith(await rawLink(id, 'dave', { grp: 'marketing' }), id, { decision: 'approve', reason: 'x' });
    expect(wrong.status).toBe(403);
    const res = await vote(id, 'dave', 'approve', 'finance sign-off', 'finance');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('approved');
    expect(await voteRows(id)).toEqual([{ approver_id: 'dave', decision: 'approve', reason: 'finance sign-off', via_group: 'finance' }]);
  });

  describe('input validation', () => {
    let id: string;
    let token: string;
    beforeAll(async () => {
      id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2 });
      token = await link(id, 'bob');
    });

    it.each([
      ['missing', { decision: 'approve' }],
      ['empty', { decision: 'approve', reason: '' }],
      ['only whitespace', { decision: 'approve', reason: '   \n ' }],
      ['longer than 2000 characters', { decision: 'approve', reason: 'x'.repeat(2001) }],
      ['not a string', { decision: 'approve', reason: 42 }],
    ])('a reason that is %s is 400 naming `reason`', async (_, body) => {
      const res = await voteWith(token, id, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.field).toBe('reason');
    });

    it.each([['maybe'], ['APPROVE'], [undefined]])('decision %p is 400 naming `decision`', async (decision) => {
      const res = await voteWith(token, id, { decision, reason: 'ok' });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('decision');
    });

    it('an unknown field is 400 naming it', async () => {
      const res = await voteWith(token, id, { decision: 'approve', reason: 'ok', weight: 10 });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('weight');
    });

    it('none of the refused bodies recorded a vote, and a 2000-character reason is accepted', async () => {
      expect(await voteRows(id)).toHaveLength(0);
      const res = await voteWith(token, id, { decision: 'approve', reason: 'r'.repeat(2000) });
      expect(res.status).toBe(200);
      expect((await voteRows(id))[0].reason).toHaveLength(2000);
    });

    it('a vote without an approver link is 401; a gateway token is not an approver link', async () => {
      expect((await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { body: { decision: 'approve', reason: 'x' } })).status).toBe(401);
      expect((await voteWith(gateway, id, { decision: 'approve', reason: 'x' })).status).toBe(401);
    });
  });

  it('a vote on a request whose time is up is 409 request_closed with status expired, and expires it', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 1 });
    const token = await link(id, 'bob');
    // The link is still valid, the request's time is up, and its expiry job has not run yet.
    await sql(env.db.url, `UPDATE approval_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const res = await voteWith(token, id, { decision: 'approve', reason: 'just in time?' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ error: 'request_closed', status: 'expired' });
    expect(await voteRows(id)).toHaveLength(0);
    expect((await requestRow(env.db.url, id)).status).toBe('expired');
    const events = await auditTypes(env.db.url, id);
    expect(events.filter((e) => e.type === 'approval.expired')).toHaveLength(1);
    // Still closed on a second try (links minted now expire with the request, so sign one directly).
    const late = await voteWith(await rawLink(id, 'carol'), id, { decision: 'approve', reason: 'x' });
    expect(late.body).toMatchObject({ error: 'request_closed', status: 'expired' });
  });

  it('an approver link stays valid until its request expires, not a fraction of a second less', async () => {
    const id = await park({ approvers: ['user:bob'], quorum: 1, expires_in: 30 });
    const minted = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    const exp = decodeJwt(minted.token).exp!;
    const expiresAt = (await requestRow(env.db.url, id)).expires_at.getTime();
    expect(exp * 1000).toBeGreaterThanOrEqual(expiresAt);
    expect(exp * 1000 - expiresAt).toBeLessThan(1000);
  });

  it('a vote is two round trips to Postgres: its locked reads with the BEGIN, its write with the COMMIT', async () => {
    const id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2 });
    // Minted first: minting reads the request.
    const links = { bob: await link(id, 'bob'), carol: await link(id, 'carol') };
    const sent: { client: Client; text: string }[] = [];
    const original = Client.prototype.query;
    const spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      const [q] = args;
      sent.push({ client: this, text: typeof q === 'string' ? q : (q as { text: string }).text });
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
    try {
      // The first vote leaves it pending; the second decides it (the settlement goes in the same statement).
      for (const approver of ['bob', 'carol'] as const) {
        sent.length = 0;
        expect((await voteWith(links[approver], id, { decision: 'approve', reason: 'ok' })).status).toBe(200);
        const begun = sent.find((s) => s.text.startsWith('BEGIN; EXECUTE'))!;
        // The vote's transaction on its connection, from its BEGIN to its COMMIT (the pool may lend the connection
        // to other work after); a statement's first use on a connection PREPAREs it, once.
        const onIt = sent
          .slice(sent.indexOf(begun))
          .filter((s) => s.client === begun.client && !s.text.startsWith('PREPARE'))
          .map((s) => s.text);
        const transaction = onIt.slice(0, onIt.findIndex((t) => t === 'COMMIT' || t.endsWith('; COMMIT')) + 1);
        expect(transaction).toHaveLength(2);
        expect(transaction[1]).toMatch(/^EXECUTE "cs_session_[\w-]{24}"\(.*\); COMMIT$/);
      }
    } finally {
      spy.mockRestore();
    }
    expect((await requestRow(env.db.url, id)).status).toBe('approved');
    expect((await voteRows(id)).map((v) => v.approver_id)).toEqual(['bob', 'carol']);
  });

  describe('concurrency', () => {
    const approvers = (n: number) => Array.from({ length: n }, (_, i) => `a${i + 1}`);

    it('50 approvers voting at once with quorum 50: approved, 50 vote rows, one approval.approved event', async () => {
      const ids = approvers(50);
      const id = await park({ approvers: ids.map((a) => `user:${a}`), quorum: 50 });
      const tokens = await Promise.all(ids.map((a) => link(id, a)));
      const results = await Promise.all(tokens.map((t) => voteWith(t, id, { decision: 'approve', reason: 'ok' })));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      expect(results.filter((r) => r.body.status === 'approved')).toHaveLength(1);
      expect((await requestRow(env.db.url, id)).status).toBe('approved');
      expect(await voteRows(id)).toHaveLength(50);
      const events = await auditTypes(env.db.url, id);
      expect(events.filter((e) => e.type === 'approval.approved')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'approval.vote')).toHaveLength(50);
    });

    it('50 approvers voting at once with quorum 10: exactly 10 are accepted and 40 are 409 request_closed', async () => {
      const ids = approvers(50);
      const id = await park({ approvers: ids.map((a) => `user:${a}`), quorum: 10 });
      const tokens = await Promise.all(ids.map((a) => link(id, a)));
      const results = await Promise.all(tokens.map((t) => voteWith(t, id, { decision: 'approve', reason: 'ok' })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(10);
      const refused = results.filter((r) => r.status === 409);
      expect(refused).toHaveLength(40);
      for (const r of refused) expect(r.body).toMatchObject({ error: 'request_closed', status: 'approved' });
      expect(await voteRows(id)).toHaveLength(10);
      const events = await auditTypes(env.db.url, id);
      expect(events.filter((e) => ['approval.approved', 'approval.denied', 'approval.expired', 'approval.cancelled'].includes(e.type))).toHaveLength(1);
      expect(events.filter((e) => e.type === 'approval.vote')).toHaveLength(10);
    });

    it('one approver link used 50 times at once: exactly one vote counts, 49 are 409 already_voted', async () => {
      const id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2 });
      const token = await link(id, 'bob');
      const results = await Promise.all(Array.from({ length: 50 }, () => voteWith(token, id, { decision: 'approve', reason: 'ok' })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      const refused = results.filter((r) => r.status === 409);
      expect(refused).toHaveLength(49);
      for (const r of refused) expect(r.body.error).toBe('already_voted');
      expect(await voteRows(id)).toHaveLength(1);
      expect((await requestRow(env.db.url, id)).status).toBe('pending');
    });
  });
});
