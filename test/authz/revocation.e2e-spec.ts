/**
 * Revocation across instances: two app instances on one database and one Redis. A revoke on one
 * instance must deny the next decisions on the other within a second, reject the approval
 * requests parked on the revoked authority (with callbacks), and cascade to sub-delegations.
 */
import { addApprovers } from '../support/directory';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { CallbackServer, eventually, requestRow, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const TENANT = 'acme';
const POLL_MS = 10;
const PROPAGATION_LIMIT_MS = 1000;

describe('delegation revocation across instances', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  let callbacks: CallbackServer;
  let n = 0;
  const measured: { label: string; ms: number }[] = [];

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:delegations countersign:admin' });
    gateway = await gatewayToken({ tenant: TENANT, sub: 'gateway-1' });
    callbacks = await CallbackServer.start();
  });
  afterAll(async () => {
    // The measured propagation times, for the record.
    if (measured.length) console.log(measured.map((m) => `${m.label}: ${m.ms} ms`).join('\n'));
    await env.teardown();
    await callbacks.close();
  });

  /** Fresh names per test, so no test sees another's cached hops or session counters. */
  const names = () => {
    const p = `rv${++n}-`;
    return { human: `${p}alice`, agent: (x: string) => `spiffe://acme.example/agents/${p}${x}` };
  };

  async function grant(app: TestApp, body: Record<string, unknown>): Promise<string> {
    // The delegating human approves the parked calls (obligation "delegator"), so they are in the directory.
    if (typeof body.human === 'string') await addApprovers(env.db.url, 'acme', [body.human]);
    const res = await call(app.url, 'POST', '/v1/delegations', { token: admin, body });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function revoke(app: TestApp, id: string) {
    const res = await call(app.url, 'DELETE', `/v1/delegations/${id}`, { token: admin });
    expect(res.status).toBe(200);
    return res.body as { revoked: string[]; rejected_approvals: string[] };
  }

  async function authorize(app: TestApp, token: string, envelope: Record<string, unknown>) {
    return call(app.url, 'POST', '/v1/authorize', { token: gateway, body: { agent: { token }, ...envelope } });
  }

  const readOrder = { action: { server: 'orders', tool: 'read_order', arguments: { order_id: 'ord-1' } }, intent: { category: 'read' } };
  const bigPayment = (delivery?: Record<string, unknown>) => ({
    action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR', iban: 'DE89370400440532013000' } },
    intent: { category: 'pay', text: 'pay the quarterly invoice' },
    resource: { id: 'acct-7', classification: 'confidential' },
    reason: 'Invoice INV-2026-0042 is due today',
    ...(delivery ? { delivery } : {}),
  });

  /** Polls `app` every POLL_MS until the call is denied; returns the first deny and the time it took from `since`. */
  async function timeUntilDenied(app: TestApp, token: string, envelope: Record<string, unknown>, since: number) {
    for (;;) {
      const res = await authorize(app, token, envelope);
      if (res.status === 403) return { res, ms: Date.now() - since };
      expect(res.status).toBe(200);
      if (Date.now() - since > 5000) throw new Error('still allowed 5 s after the revoke');
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  it('a revoke on instance A denies the next decisions on instance B within a second, with delegation_revoked', async () => {
    for (let trial = 1; trial <= 5; trial++) {
      const { human, agent } = names();
      const id = await grant(a, { human, agent: agent('reader'), tools: ['orders/*'] });
      const token = await agentToken({ human, actors: [agent('reader')] });
      // B has the hop cached: its next decision would be served from the cache if nothing told it.
      const before = await authorize(b, token, readOrder);
      expect(before.status).toBe(200);
      expect(before.body.verdict).toBe('allow');

      const started = Date.now();
      const revoked = await revoke(a, id);
      const revokedAt = Date.now();
      expect(revoked.revoked).toEqual([id]);
      const { res, ms } = await timeUntilDenied(b, token, readOrder, revokedAt);
      // The revoking instance denies too.
      const onA = await authorize(a, token, readOrder);
      expect(onA.status).toBe(403);
      expect(onA.body.reasons).toContain('delegation_revoked');
      measured.push({ label: `trial ${trial}: B denies after the DELETE returned (DELETE itself took ${revokedAt - started} ms)`, ms });
      expect(ms).toBeLessThan(PROPAGATION_LIMIT_MS);
      expect(res.body.verdict).toBe('deny');
      expect(res.body.reasons).toEqual(expect.arrayContaining(['delegation_revoked', 'not_delegated']));
    }
  });

  it('under a steady stream of decisions on B, no decision that starts after the revoke has propagated is still allowed', async () => {
    for (let trial = 1; trial <= 3; trial++) {
      const { human, agent } = names();
      const id = await grant(a, { human, agent: agent('busy'), tools: ['orders/*'] });
      const token = await agentToken({ human, actors: [agent('busy')] });
      // Distinct sessions per worker: the velocity step-up must not get in the way.
      const envelope = (w: number) => ({ ...readOrder, correlation: { mcp_session_id: `${human}-w${w}` } });
      expect((await authorize(b, token, envelope(0))).status).toBe(200);
      let revokedAt = Number.POSITIVE_INFINITY;
      let stop = false;
      const answers: { started: number; status: number }[] = [];
      const workers = Array.from({ length: 8 }, async (_, w) => {
        while (!stop) {
          const started = Date.now();
          const res = await authorize(b, token, envelope(w));
          answers.push({ started, status: res.status });
        }
      });
      await new Promise((r) => setTimeout(r, 100));
      await revoke(a, id);
      revokedAt = Date.now();
      await new Promise((r) => setTimeout(r, 400));
      stop = true;
      await Promise.all(workers);
      const lateAllows = answers.filter((x) => x.status === 200 && x.started > revokedAt + 50);
      const lastAllow = Math.max(...answers.filter((x) => x.status === 200).map((x) => x.started - revokedAt));
      measured.push({
        label: `stream trial ${trial}: last allowed decision started this long after the DELETE returned (${answers.length} decisions)`,
        ms: lastAllow,
      });
      expect(answers.filter((x) => x.status === 200 && x.started < revokedAt - 50).length).toBeGreaterThan(0);
      expect(lateAllows).toEqual([]);
      expect(answers.filter((x) => x.status !== 200 && x.status !== 403)).toEqual([]);
    }
  });

  it('a revoke written to the database without any invalidation message is still honoured within the 1 s hop cache TTL', async () => {
    const { human, agent } = names();
    const id = await grant(a, { human, agent: agent('reader'), tools: ['orders/*'] });
    const token = await agentToken({ human, actors: [agent('reader')] });
    expect((await authorize(b, token, readOrder)).status).toBe(200);
    // As if the pub/sub message were lost: only the row changes.
    await sql(env.db.url, `UPDATE delegations SET revoked_at = now(), revoked_by = 'test' WHERE id = $1`, [id]);
    const since = Date.now();
    const { res, ms } = await timeUntilDenied(b, token, readOrder, since);
    measured.push({ label: 'lost invalidation: B denies after the row changed (cache TTL bound)', ms });
    expect(ms).toBeLessThan(1000 + 250);
    expect(res.body.reasons).toContain('delegation_revoked');
  });

  it('a large payment parked through /v1/authorize is rejected by the revoke: listed, denied, access_denied with delegation_revoked, and pinged', async () => {
    const { human, agent } = names();
    const id = await grant(a, { human, agent: agent('payer'), tools: ['payments/*'] });
    const token = await agentToken({ human, actors: [agent('payer')] });
    const path = '/ping/revoked-payment';
    const parked = await authorize(
      b,
      token,
      bigPayment({ mode: 'ping', notification_endpoint: callbacks.on(path, (res) => res.writeHead(204).end()), notification_token: 'ping-secret-1' }),
    );
    expect(parked.status).toBe(202);
    expect(parked.body).toMatchObject({ verdict: 'allow_with_obligations', auth_req_id: expect.any(String) });
    const approvalId: string = parked.body.auth_req_id;
    expect((await call(b.url, 'GET', `/v1/approvals/${approvalId}`, { token: gateway })).body.status).toBe('pending');
    expect((await call(b.url, 'POST', `/v1/approvals/${approvalId}/token`, { token: gateway })).body.error).toBe('authorization_pending');
    expect(callbacks.requestsTo(path)).toHaveLength(0);

    const revoked = await revoke(a, id);
    expect(revoked).toEqual({ revoked: [id], rejected_approvals: [approvalId] });

    const view = await call(b.url, 'GET', `/v1/approvals/${approvalId}`, { token: gateway });
    expect(view.body.status).toBe('denied');
    expect(view.body.decided_at).not.toBeNull();
    const poll = await call(b.url, 'POST', `/v1/approvals/${approvalId}/token`, { token: gateway });
    expect(poll.status).toBe(400);
    expect(poll.body).toMatchObject({ error: 'access_denied', reason: 'delegation_revoked' });

    const [ping] = await eventually(async () => callbacks.requestsTo(path).length > 0 && callbacks.requestsTo(path));
    expect(ping.method).toBe('POST');
    expect(ping.headers.authorization).toBe('Bearer ping-secret-1');
    expect(ping.body).toEqual({ auth_req_id: approvalId });
    await eventually(async () => (await requestRow(env.db.url, approvalId)).callback_state === 'delivered');

    const events = await sql<{ type: string; actor: string; data: any }>(
      env.db.url,
      `SELECT type, actor, data FROM audit_events WHERE approval_id = $1 ORDER BY id`,
      [approvalId],
    );
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['authz.decision', 'approval.created', 'approval.denied']));
    expect(events.find((e) => e.type === 'approval.denied')).toMatchObject({ actor: 'system', data: { reason: 'delegation_revoked' } });

    // A second revoke of the same delegation changes nothing and rejects nothing more.
    expect(await revoke(b, id)).toEqual({ revoked: [], rejected_approvals: [] });
  });

  it('a push-mode approval rejected by a revoke is pushed as access_denied with the reason', async () => {
    const { human, agent } = names();
    const id = await grant(a, { human, agent: agent('payer'), tools: ['payments/*'] });
    const token = await agentToken({ human, actors: [agent('payer')] });
    const path = '/push/revoked-payment';
    const parked = await authorize(
      a,
      token,
      bigPayment({ mode: 'push', notification_endpoint: callbacks.on(path, (res) => res.writeHead(200).end('{}')), notification_token: 'push-secret-1' }),
    );
    expect(parked.status).toBe(202);
    const revoked = await revoke(b, id);
    expect(revoked.rejected_approvals).toEqual([parked.body.auth_req_id]);
    const [push] = await eventually(async () => callbacks.requestsTo(path).length > 0 && callbacks.requestsTo(path));
    expect(push.headers.authorization).toBe('Bearer push-secret-1');
    expect(push.body).toMatchObject({ auth_req_id: parked.body.auth_req_id, status: 'denied', error: 'access_denied', reason: 'delegation_revoked' });
    expect(push.body.approval_token).toBeUndefined();
  });

  it('revoking a parent revokes its sub-delegations, denies the sub-agents everywhere and rejects what they parked', async () => {
    const { human, agent } = names();
    const root = await grant(a, { human, agent: agent('A'), tools: ['orders/*', 'payments/*'] });
    const mid = await grant(a, { human, agent: agent('B'), tools: ['orders/read_order', 'payments/transfer_funds'], parent_id: root });
    const leaf = await grant(b, { human, agent: agent('C'), tools: ['orders/read_order', 'payments/transfer_funds'], parent_id: mid });
    const tokenA = await agentToken({ human, actors: [agent('A')] });
    const tokenB = await agentToken({ human, actors: [agent('B'), agent('A')] });
    const tokenC = await agentToken({ human, actors: [agent('C'), agent('B'), agent('A')] });
    for (const t of [tokenA, tokenB, tokenC]) expect((await authorize(b, t, readOrder)).status).toBe(200);
    // The sub-sub-agent parks a payment: it rests on the whole chain.
    const parked = await authorize(b, tokenC, bigPayment());
    expect(parked.status).toBe(202);
    const [stored] = await sql(env.db.url, `SELECT delegation FROM approval_requests WHERE id = $1`, [parked.body.auth_req_id]);
    expect(stored.delegation.delegation_id).toBe(leaf);

    const revokedAt = Date.now();
    const revoked = await revoke(a, root);
    expect(revoked.revoked.sort()).toEqual([root, mid, leaf].sort());
    expect(revoked.rejected_approvals).toEqual([parked.body.auth_req_id]);

    const { res, ms } = await timeUntilDenied(b, tokenC, readOrder, revokedAt);
    measured.push({ label: 'cascade: B denies the sub-sub-agent after the parent revoke', ms });
    expect(ms).toBeLessThan(PROPAGATION_LIMIT_MS);
    expect(res.body.reasons).toContain('delegation_revoked');
    for (const t of [tokenA, tokenB]) {
      const r = await authorize(b, t, readOrder);
      expect(r.status).toBe(403);
      expect(r.body.reasons).toContain('delegation_revoked');
    }
    const token = await call(b.url, 'POST', `/v1/approvals/${parked.body.auth_req_id}/token`, { token: gateway });
    expect(token.body).toMatchObject({ error: 'access_denied', reason: 'delegation_revoked' });

    // The listing hides revoked delegations unless asked, and then shows who revoked them.
    const active = await call(b.url, 'GET', `/v1/delegations?human=${encodeURIComponent(human)}`, { token: admin });
    expect(active.body.delegations).toEqual([]);
    const all = await call(b.url, 'GET', `/v1/delegations?human=${encodeURIComponent(human)}&include_revoked=true`, { token: admin });
    expect(all.body.delegations).toHaveLength(3);
    for (const d of all.body.delegations) expect(d.revoked_at).not.toBeNull();

    // Audit: one delegation.granted per grant, and one delegation.revoked naming the cascade.
    const granted = await sql<{ data: any; agent_id: string; delegator_id: string }>(
      env.db.url,
      `SELECT data, agent_id, delegator_id FROM audit_events WHERE type = 'delegation.granted' AND data->>'delegation_id' = ANY($1)`,
      [[root, mid, leaf]],
    );
    expect(granted).toHaveLength(3);
    expect(granted.find((g) => g.data.delegation_id === leaf)).toMatchObject({
      agent_id: agent('C'),
      delegator_id: human,
      data: { grantor: agent('B'), parent_id: mid, tools: ['orders/read_order', 'payments/transfer_funds'] },
    });
    const revokedEvents = await sql<{ data: any; actor: string }>(
      env.db.url,
      `SELECT data, actor FROM audit_events WHERE type = 'delegation.revoked' AND data->>'delegation_id' = $1`,
      [root],
    );
    expect(revokedEvents).toHaveLength(1);
    expect(revokedEvents[0].actor).toBe('gateway:idp');
    expect([...revokedEvents[0].data.cascade].sort()).toEqual([root, mid, leaf].sort());
  });

  it('revoking a sub-delegation leaves its parent in force', async () => {
    const { human, agent } = names();
    const root = await grant(a, { human, agent: agent('A'), tools: ['orders/*'] });
    const sub = await grant(a, { human, agent: agent('B'), tools: ['orders/read_order'], parent_id: root });
    const tokenA = await agentToken({ human, actors: [agent('A')] });
    const tokenB = await agentToken({ human, actors: [agent('B'), agent('A')] });
    expect((await authorize(b, tokenB, readOrder)).status).toBe(200);
    expect(await revoke(a, sub)).toEqual({ revoked: [sub], rejected_approvals: [] });
    const { res } = await timeUntilDenied(b, tokenB, readOrder, Date.now());
    expect(res.body.reasons).toContain('delegation_revoked');
    expect((await authorize(b, tokenA, readOrder)).status).toBe(200);
  });

  it('revoking the grant that covers a parked call rejects it even when the agent holds a newer grant for other tools', async () => {
    const { human, agent } = names();
    const payments = await grant(a, { human, agent: agent('payer'), tools: ['payments/*'] });
    const calendar = await grant(a, { human, agent: agent('payer'), tools: ['calendar/*'] });
    const token = await agentToken({ human, actors: [agent('payer')] });
    const parked = await authorize(b, token, bigPayment());
    expect(parked.status).toBe(202);
    const [stored] = await sql(env.db.url, `SELECT delegation FROM approval_requests WHERE id = $1`, [parked.body.auth_req_id]);
    expect(stored.delegation.delegation_id).toBe(payments);
    expect(calendar).not.toBe(payments);
    expect(await revoke(a, payments)).toEqual({ revoked: [payments], rejected_approvals: [parked.body.auth_req_id] });
  });

  it('a delegation of another tenant cannot be revoked (404) and an unknown id is 404', async () => {
    const { human, agent } = names();
    const id = await grant(a, { human, agent: agent('reader'), tools: ['orders/*'] });
    const globex = await gatewayToken({ tenant: 'globex', sub: 'idp', scope: 'countersign:delegations' });
    const other = await call(b.url, 'DELETE', `/v1/delegations/${id}`, { token: globex });
    expect(other.status).toBe(404);
    expect(other.body.error).toBe('not_found');
    const missing = await call(b.url, 'DELETE', `/v1/delegations/dlg_nope`, { token: admin });
    expect(missing.status).toBe(404);
    const token = await agentToken({ human, actors: [agent('reader')] });
    expect((await authorize(b, token, readOrder)).status).toBe(200);
    const [row] = await sql(env.db.url, `SELECT revoked_at FROM delegations WHERE id = $1`, [id]);
    expect(row.revoked_at).toBeNull();
  });

  it('a gateway without the delegations scope can neither grant nor revoke', async () => {
    const { human, agent } = names();
    const id = await grant(a, { human, agent: agent('reader'), tools: ['orders/*'] });
    const g = await call(b.url, 'POST', '/v1/delegations', { token: gateway, body: { human, agent: agent('x'), tools: ['*'] } });
    expect(g.status).toBe(403);
    expect(g.body.error).toBe('insufficient_scope');
    const r = await call(b.url, 'DELETE', `/v1/delegations/${id}`, { token: gateway });
    expect(r.status).toBe(403);
    const [row] = await sql(env.db.url, `SELECT revoked_at FROM delegations WHERE id = $1`, [id]);
    expect(row.revoked_at).toBeNull();
  });
});
