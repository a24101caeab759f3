/**
 * Standing approvals end to end (issue 15), on two app instances over one Postgres and Redis: an
 * approver lets an approval stand for the rest of the MCP session or for a window, within what the
 * policy's `@standing…` annotations offer; later matching calls are allowed with reason
 * standing_approval and the original approval's id, and stop at every boundary (another session,
 * a changed pinned argument, expiry, uses, a hard forbid, revocation on the other instance,
 * delegation revoked).
 */
import { randomUUID } from 'node:crypto';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const PAYMENT_PERMIT = `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server == "payments" && context.tool == "transfer_funds" };`;
const POLICIES = {
  'payment-approval': `@reason("payment_approval") @obligation("human_approval") @approvers("user:bob,user:carol")
@standing("session,window") @standing_max_seconds("3600") @standing_max_uses("10") @standing_pin("currency")
${PAYMENT_PERMIT}`,
  'refund-approval': `@reason("refund_approval") @obligation("human_approval") @approvers("user:bob")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server == "payments" && context.tool == "refund" };`,
  'forbid-restricted': `@reason("restricted_resource") forbid (principal, action, resource) when { context.resource_classification == "restricted" };`,
};

describe('standing approvals', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let gateway: string;
  let admin: string;
  let delegations: string;
  let n = 0;
  const measured: string[] = [];

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    gateway = await tenantToken('acme', 'gateway-1');
    admin = await adminToken();
    delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const published = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true } });
    expect(published.status).toBe(201);
  });
  afterAll(async () => {
    if (measured.length) console.log(measured.join('\n'));
    await env.teardown();
  });

  /** A fresh agent with its own delegation from alice, and a fresh MCP session. */
  async function agent(human = 'alice') {
    const id = `spiffe://acme.example/agents/st${++n}-${randomUUID().slice(0, 8)}`;
    const granted = await call(a.url, 'POST', '/v1/delegations', { token: delegations, body: { human, agent: id, tools: ['payments/*'] } });
    expect(granted.status).toBe(201);
    return { id, delegation: granted.body.id as string, token: await agentToken({ human, actors: [id] }), session: `sess-${randomUUID()}` };
  }
  type Agent = Awaited<ReturnType<typeof agent>>;

  const payment = (x: Agent, over: { args?: Record<string, unknown>; session?: string; tool?: string; classification?: string } = {}) => ({
    agent: { token: x.token },
    action: { server: 'payments', tool: over.tool ?? 'transfer_funds', arguments: over.args ?? { amount: 120, currency: 'EUR', to: 'DE89370400440532013000' } },
    intent: { category: 'pay' },
    resource: { id: 'acct-7', classification: over.classification ?? 'confidential' },
    reason: 'monthly supplier payments',
    correlation: { mcp_session_id: over.session ?? x.session },
  });
  const authorize = (app: TestApp, body: Record<string, unknown>) => call(app.url, 'POST', '/v1/authorize', { token: gateway, body });

  async function linkFor(app: TestApp, approvalId: string, approverId = 'bob') {
    return (await app.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId, approverId })).token;
  }
  async function vote(app: TestApp, approvalId: string, body: Record<string, unknown>, approverId = 'bob') {
    return call(app.url, 'POST', `/v1/approvals/${approvalId}/decisions`, { token: await linkFor(app, approvalId, approverId), body });
  }
  /** Parks the call and approves it with `standing`; returns the approval id and the standing approval. */
  async function approveStanding(x: Agent, standing: Record<string, unknown>, envelope = payment(x)) {
    const parked = await authorize(a, envelope);
    expect(parked.status).toBe(202);
    const res = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'regular supplier run', standing });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('approved');
    return { approvalId: parked.body.auth_req_id as string, standing: res.body.standing_approval };
  }

  it('session scope: the same call in the same session is allowed with standing_approval and the approval id, audited; another session or a changed pinned argument parks', async () => {
    const x = await agent();
    const { approvalId, standing } = await approveStanding(x, { scope: 'session', pin: ['to'] });
    const offered = await call(a.url, 'GET', `/v1/approvals/${approvalId}`, { token: gateway });
    expect(offered.body.obligation.standing).toEqual({ scopes: ['session', 'window'], max_seconds: 3600, max_uses: 10, pin: ['currency'] });
    // The policy's pin (currency) is kept beside the approver's own (to).
    expect(standing).toMatchObject({
      scope: 'session',
      status: 'active',
      mcp_session_id: x.session,
      pinned: { currency: 'EUR', to: 'DE89370400440532013000' },
      max_uses: 10,
    });

    const again = await authorize(b, payment(x, { args: { amount: 99, currency: 'EUR', to: 'DE89370400440532013000' } }));
    expect(again.status).toBe(200);
    expect(again.body.verdict).toBe('allow');
    expect(again.body.reasons[0]).toBe('standing_approval');
    expect(again.body.obligations).toEqual([]);
    expect(again.body.standing_approval).toMatchObject({ id: standing.id, approval_id: approvalId, scope: 'session', uses: 1 });
    const [audit] = await sql<{ approval_id: string; data: any }>(
      env.db.url,
      `SELECT approval_id, data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`,
      [again.body.decision_id],
    );
    expect(audit.approval_id).toBe(approvalId);
    expect(audit.data.standing_approval).toMatchObject({ id: standing.id, approval_id: approvalId });
    const granted = await sql(env.db.url, `SELECT actor, data FROM audit_events WHERE type = 'standing_approval.granted' AND approval_id = $1`, [approvalId]);
    expect(granted).toEqual([expect.objectContaining({ actor: 'approver:bob' })]);

    // AuthZEN decides through the same engine: allowed, with the standing approval in the context.
    const evaluated = await call(b.url, 'POST', '/access/v1/evaluation', {
      token: gateway,
      body: {
        subject: { type: 'agent', id: x.id, properties: { token: x.token } },
        action: { name: 'transfer_funds', properties: { server: 'payments' } },
        resource: { type: 'account', id: 'acct-7', properties: { classification: 'confidential' } },
        context: {
          arguments: { amount: 5, currency: 'EUR', to: 'DE89370400440532013000' },
          reason: 'supplier',
          intent: { category: 'pay' },
          correlation: { mcp_session_id: x.session },
        },
      },
    });
    expect(evaluated.body).toMatchObject({
      decision: true,
      context: { reasons: expect.arrayContaining(['standing_approval']), standing_approval: { id: standing.id, approval_id: approvalId, uses: 2 } },
    });

    expect((await authorize(b, payment(x, { session: `sess-${randomUUID()}` }))).status).toBe(202);
    expect((await authorize(b, payment(x, { args: { amount: 120, currency: 'USD', to: 'DE89370400440532013000' } }))).status).toBe(202);
    expect((await authorize(b, payment(x, { args: { amount: 120, currency: 'EUR', to: 'GB33BUKB20201555555555' } }))).status).toBe(202);
    // A pinned path that was present must stay present.
    expect((await authorize(b, payment(x, { args: { amount: 120, to: 'DE89370400440532013000' } }))).status).toBe(202);
    // Another agent of the same human, in the same session, is not covered.
    const other = await agent();
    expect((await authorize(b, payment(other, { session: x.session }))).status).toBe(202);
  });

  it('window scope ends when its window closes; a window beyond the policy maximum is refused naming standing.expires_in', async () => {
    const x = await agent();
    const parked = await authorize(a, payment(x));
    const tooLong = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'window', expires_in: 7200 } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.field).toBe('standing.expires_in');
    const tooMany = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'window', max_uses: 11 } });
    expect(tooMany.body.field).toBe('standing.max_uses');
    // Refused choices changed nothing: still pending, and the same approver can still vote.
    const ok = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'window', expires_in: 2 } });
    expect(ok.body.standing_approval).toMatchObject({ scope: 'window', mcp_session_id: null });
    // A window is not bound to the session.
    const inWindow = await authorize(b, payment(x, { session: `sess-${randomUUID()}` }));
    expect(inWindow.status).toBe(200);
    expect(inWindow.body.reasons).toContain('standing_approval');
    await sleep(2100);
    expect((await authorize(b, payment(x))).status).toBe(202);
  });

  it('uses run out exactly, however many calls race for them on two instances', async () => {
    const x = await agent();
    const { standing } = await approveStanding(x, { scope: 'session', max_uses: 3 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => authorize(i % 2 ? a : b, payment(x))));
    expect(answers.filter((r) => r.status === 200).length).toBe(3);
    expect(answers.filter((r) => r.status === 202).length).toBe(9);
    const [row] = await sql<{ uses: number }>(env.db.url, `SELECT uses FROM standing_approvals WHERE id = $1`, [standing.id]);
    expect(row.uses).toBe(3);
  });

  it('a policy without @standing refuses a standing scope (and the vote changes nothing); a denial cannot stand', async () => {
    const x = await agent();
    const parked = await authorize(a, payment(x, { tool: 'refund' }));
    expect(parked.status).toBe(202);
    const refused = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'session' } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'standing_not_offered', field: 'standing.scope', offered: ['call'] });
    const view = await call(a.url, 'GET', `/v1/approvals/${parked.body.auth_req_id}`, { token: gateway });
    expect(view.body.status).toBe('pending');
    expect(view.body.obligation.standing).toBeNull();
    const deny = await vote(a, parked.body.auth_req_id, { decision: 'deny', reason: 'no', standing: { scope: 'window' } });
    expect(deny.status).toBe(400);
    expect(deny.body.field).toBe('standing.scope');
    const bad = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'forever' } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('standing.scope');
    // "call" is today's behaviour: approved, nothing stands.
    const once = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'call' } });
    expect(once.body.status).toBe('approved');
    expect(once.body.standing_approval).toBeUndefined();
    expect((await authorize(a, payment(x, { tool: 'refund' }))).status).toBe(202);
  });

  it('a policy that no longer offers the scope no longer honours it: the call parks while the active set says so', async () => {
    const x = await agent();
    await approveStanding(x, { scope: 'session' });
    const without = { ...POLICIES, 'payment-approval': POLICIES['payment-approval'].replace('@standing("session,window")', '@standing("window")') };
    expect((await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: without, activate: true } })).status).toBe(201);
    try {
      // Policy sets reach the other instance through the same invalidation as their activation.
      let res = await authorize(b, payment(x));
      for (const started = Date.now(); res.status === 200 && Date.now() - started < 2000;) res = await authorize(b, payment(x));
      expect(res.status).toBe(202);
    } finally {
      expect((await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true } })).status).toBe(201);
    }
  });

  it('a hard forbid still denies a call the standing approval would cover', async () => {
    const x = await agent();
    await approveStanding(x, { scope: 'session' });
    const forbidden = await authorize(b, payment(x, { classification: 'restricted' }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.reasons).toContain('restricted_resource');
    expect(forbidden.body.reasons).not.toContain('standing_approval');
  });

  it('a human disabled in the directory: their agent is denied although the standing approval is live', async () => {
    const human = `st-human-${randomUUID().slice(0, 8)}`;
    const person = (status: string) => call(a.url, 'PUT', `/v1/approvers/${human}`, { token: admin, body: { display_name: 'Dana', status } });
    expect((await person('active')).status).toBe(201);
    const x = await agent(human);
    await approveStanding(x, { scope: 'session' });
    expect((await authorize(b, payment(x))).status).toBe(200);
    expect((await person('disabled')).status).toBe(200);
    const started = Date.now();
    let denied = await authorize(b, payment(x));
    while (denied.status === 200 && Date.now() - started < 2000) denied = await authorize(b, payment(x));
    measured.push(`human disabled → B denies: ${Date.now() - started} ms`);
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toContain('human_disabled');
  });

  it('an approver disabled in the directory: what they granted ends', async () => {
    const x = await agent();
    const { standing } = await approveStanding(x, { scope: 'session' }, payment(x));
    expect((await authorize(b, payment(x))).status).toBe(200);
    const carolGrant = await agent();
    const parked = await authorize(a, payment(carolGrant));
    const byCarol = await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'session' } }, 'carol');
    expect(byCarol.body.standing_approval).toBeDefined();
    // bob leaves: his standing approvals end, carol's stays.
    const bob = await call(a.url, 'GET', '/v1/approvers/bob', { token: admin });
    expect(
      (
        await call(a.url, 'PUT', '/v1/approvers/bob', {
          token: admin,
          body: { display_name: bob.body.display_name, email: bob.body.email, status: 'disabled' },
        })
      ).status,
    ).toBe(200);
    try {
      // Not allowed by bob's standing approval; parking it fails too (a named approver is disabled: approvers_unavailable).
      const after = await authorize(b, payment(x));
      expect({ status: after.status, reasons: after.body.reasons }).toEqual({ status: 403, reasons: ['payment_approval', 'approvers_unavailable'] });
      expect((await authorize(b, payment(carolGrant))).status).toBe(200);
      const [row] = await sql<{ ended_reason: string }>(env.db.url, `SELECT ended_reason FROM standing_approvals WHERE id = $1`, [standing.id]);
      expect(row.ended_reason).toBe('person_disabled');
    } finally {
      expect(
        (
          await call(a.url, 'PUT', '/v1/approvers/bob', {
            token: admin,
            body: { display_name: bob.body.display_name, email: bob.body.email, status: 'active' },
          })
        ).status,
      ).toBe(200);
    }
  });

  it('an admin lists it; revoked on instance A, instance B parks the next call at once', async () => {
    const x = await agent();
    const { standing } = await approveStanding(x, { scope: 'session' });
    expect((await authorize(b, payment(x))).status).toBe(200);
    const listed = await call(a.url, 'GET', `/v1/standing-approvals?agent=${encodeURIComponent(x.id)}`, { token: admin });
    expect(listed.body.standing_approvals).toEqual([expect.objectContaining({ id: standing.id, uses: 1, status: 'active' })]);
    const started = Date.now();
    const revoked = await call(a.url, 'DELETE', `/v1/standing-approvals/${standing.id}`, { token: admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', ended_reason: 'revoked', revoked_by: 'gateway:idp' });
    const next = await authorize(b, payment(x));
    measured.push(`admin revoke on A → B parks the next call: ${Date.now() - started} ms after the DELETE was sent`);
    expect(next.status).toBe(202);
    expect(Date.now() - started).toBeLessThan(1000);
    const gone = await call(a.url, 'GET', `/v1/standing-approvals?agent=${encodeURIComponent(x.id)}`, { token: admin });
    expect(gone.body.standing_approvals).toEqual([]);
    const ended = await call(a.url, 'GET', `/v1/standing-approvals?agent=${encodeURIComponent(x.id)}&include_ended=true`, { token: admin });
    expect(ended.body.standing_approvals).toEqual([expect.objectContaining({ id: standing.id, status: 'revoked' })]);
  });

  it("an approver lists and revokes their own through their link, and not another approver's", async () => {
    const x = await agent();
    const { approvalId, standing } = await approveStanding(x, { scope: 'window', expires_in: 600 });
    const bob = await linkFor(a, approvalId, 'bob');
    const carol = await linkFor(a, approvalId, 'carol');
    const mine = await call(a.url, 'GET', '/v1/standing-approvals/mine', { token: bob });
    expect(mine.body.standing_approvals.map((s: { id: string }) => s.id)).toContain(standing.id);
    const carols = await call(a.url, 'GET', '/v1/standing-approvals/mine', { token: carol });
    expect(carols.body.standing_approvals.map((s: { id: string }) => s.id)).not.toContain(standing.id);
    expect((await call(a.url, 'DELETE', `/v1/standing-approvals/mine/${standing.id}`, { token: carol })).status).toBe(404);
    expect((await authorize(b, payment(x))).status).toBe(200);
    const revoked = await call(a.url, 'DELETE', `/v1/standing-approvals/mine/${standing.id}`, { token: bob });
    expect(revoked.body).toMatchObject({ status: 'revoked', revoked_by: 'approver:bob' });
    expect((await authorize(b, payment(x))).status).toBe(202);
    expect((await call(a.url, 'DELETE', `/v1/standing-approvals/sta_${randomUUID()}`, { token: admin })).status).toBe(404);
    expect((await call(a.url, 'DELETE', '/v1/standing-approvals/not-an-id', { token: admin })).status).toBe(404);
  });

  it('revoking the delegation it was granted under ends it on every instance; a new delegation does not revive it', async () => {
    const x = await agent();
    const { standing } = await approveStanding(x, { scope: 'session' });
    expect((await authorize(b, payment(x))).status).toBe(200);
    const started = Date.now();
    expect((await call(a.url, 'DELETE', `/v1/delegations/${x.delegation}`, { token: delegations })).status).toBe(200);
    const denied = await authorize(b, payment(x));
    measured.push(`delegation revoke on A → B denies: ${Date.now() - started} ms after the DELETE was sent`);
    expect(denied.status).toBe(403);
    expect(denied.body.reasons).toContain('delegation_revoked');
    const regranted = await call(a.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: x.id, tools: ['payments/*'] } });
    expect(regranted.status).toBe(201);
    await sleep(1100); // the hop cache's bound
    expect((await authorize(b, payment(x))).status).toBe(202);
    const [row] = await sql<{ ended_reason: string }>(env.db.url, `SELECT ended_reason FROM standing_approvals WHERE id = $1`, [standing.id]);
    expect(row.ended_reason).toBe('delegation_revoked');
  });

  it('with a quorum of two, it stands only when both approvers chose the same scope, on the narrower terms', async () => {
    const quorum = {
      ...POLICIES,
      'payment-approval': POLICIES['payment-approval'].replace('@approvers("user:bob,user:carol")', '@approvers("user:bob,user:carol") @quorum("2")'),
    };
    expect((await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: quorum, activate: true } })).status).toBe(201);
    try {
      const x = await agent();
      const parked = await authorize(a, payment(x));
      expect(
        (await vote(a, parked.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'window', expires_in: 600, max_uses: 5 } }, 'bob')).body
          .status,
      ).toBe('pending');
      const last = await vote(
        a,
        parked.body.auth_req_id,
        { decision: 'approve', reason: 'ok', standing: { scope: 'window', expires_in: 300, pin: ['amount'] } },
        'carol',
      );
      expect(last.body.standing_approval).toMatchObject({
        scope: 'window',
        max_uses: 5,
        granted_by: ['bob', 'carol'],
        pinned: { amount: 120, currency: 'EUR' },
      });
      const parked2 = await authorize(a, payment(x, { args: { amount: 1, currency: 'EUR' } }));
      await vote(a, parked2.body.auth_req_id, { decision: 'approve', reason: 'ok', standing: { scope: 'session' } }, 'bob');
      const mixed = await vote(a, parked2.body.auth_req_id, { decision: 'approve', reason: 'ok' }, 'carol');
      expect(mixed.body.status).toBe('approved');
      expect(mixed.body.standing_approval).toBeUndefined();
    } finally {
      expect((await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: POLICIES, activate: true } })).status).toBe(201);
    }
  });

  it.each([
    ['an unknown scope', '@standing("forever")', '@standing must list'],
    ['a window without a maximum', '@standing("window")', 'needs @standing_max_seconds'],
    ['a pin that is no argument path', '@standing("session") @standing_pin("a b")', '@standing_pin must list'],
    ['standing terms without @standing', '@standing_max_uses("3")', 'needs @standing'],
  ])('refuses to publish %s', async (_name, annotations, message) => {
    const policies = { bad: `@obligation("human_approval") @approvers("user:bob") ${annotations} ${PAYMENT_PERMIT}` };
    const res = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(message);
  });
});
