/**
 * Re-evaluation on redeem (real HTTP, Postgres, Redis): an approved call is judged again when the
 * gateway redeems it, with the approval counted as given. Whatever would deny it now denies it
 * still — a delegation revoked after the approval, a newly activated policy version that forbids
 * it (a hard cap), a window that has closed — at the gateway token endpoint and before a push
 * callback carries a token; the request ends `denied` (settled_reason reevaluation_denied) and
 * the audit records the repeated decision. Unchanged, the token is issued exactly once.
 *
 * The closed window is deterministic: the call is parked with an observed_at a minute back
 * (within the skew this app allows), the window closed 30 s ago, and the redeem is judged by the
 * service's clock.
 */
import { Redis } from 'ioredis';
import { call, parkBody, tenantToken } from '../support/api';
import { REDIS_URL, selfLinked, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { CallbackServer, eventually, requestRow, sql } from '../support/callback-server';
import { addApprovers } from '../support/directory';
import { agentToken, gatewayToken } from '../support/keys';

const TENANT = 'acme';

/** The payment needs the delegating human's OK; nothing else is permitted. */
const PAY_WITH_APPROVAL = `@reason("payment_needs_approval")
@obligation("human_approval")
@approvers("delegator")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`;
const HARD_CAP = `@reason("amount_over_cap")
forbid (principal, action == Action::"call_tool", resource) when { context.has_amount && context.amount > 20000 };`;

describe('re-evaluation when an approved call is redeemed', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let admin: string;
  let callbacks: CallbackServer;
  let redis: Redis;
  let n = 0;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ ...(await selfLinked()), DECISION_TIME_SKEW_SECONDS: '120' });
    gateway = await tenantToken(TENANT, 'gateway-1');
    admin = await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    callbacks = await CallbackServer.start();
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await callbacks.close();
    await env.teardown();
  });

  /** Activates a new policy set version; returns its number. */
  async function publish(policies: Record<string, string>): Promise<number> {
    const res = await call(api.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate: true } });
    expect(res.status).toBe(201);
    return res.body.version;
  }

  /** A human who delegated payments to an agent, fresh per test (no cached hops or counters shared). */
  async function delegated() {
    const p = `re${++n}-`;
    const human = `${p}alice`;
    const agent = `spiffe://acme.example/agents/${p}payer`;
    await addApprovers(env.db.url, TENANT, [human]);
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human, agent, tools: ['payments/*'] } });
    expect(granted.status).toBe(201);
    return { human, agent, delegationId: granted.body.id as string, token: await agentToken({ human, actors: [agent] }), session: `${p}session` };
  }

  /** Parks a 25,000 EUR payment through /v1/authorize; returns its auth_req_id. */
  async function park(who: { token: string; session: string }, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: who.token },
        action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR', iban: 'DE89370400440532013000' } },
        intent: { category: 'pay', text: 'pay the quarterly invoice' },
        resource: { id: 'acct-7', classification: 'confidential' },
        reason: 'Invoice INV-2026-0042 is due today',
        correlation: { mcp_session_id: who.session },
        ...extra,
      },
    });
    expect(res.status).toBe(202);
    expect(res.body.verdict).toBe('allow_with_obligations');
    return res.body.auth_req_id;
  }

  async function approve(id: string, human: string): Promise<void> {
    const res = await voteAs(api, { approvalId: id, approverId: human, decision: 'approve', reason: 'invoice checked' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('approved');
  }

  const redeem = (id: string) => call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
  const events = (id: string) =>
    sql<{ type: string; actor: string; data: any }>(env.db.url, `SELECT type, actor, data FROM audit_events WHERE approval_id = $1 ORDER BY id`, [id]);

  /** What every denied redeem must show: access_denied with the reasons, a denied request, and the audit. */
  async function expectDeniedAtRedeem(id: string, reasons: string[], policyVersion?: number) {
    const res = await redeem(id);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: expect.arrayContaining(reasons) });
    expect(res.body.error_description).toContain(reasons[0]);
    expect(res.body.approval_token).toBeUndefined();
    if (policyVersion !== undefined) expect(res.body.policy_version).toBe(policyVersion);

    const view = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
    expect(view.body.status).toBe('denied');
    const [row] = await sql(env.db.url, `SELECT settled_reason, token_redeemed_at, token_jti FROM approval_requests WHERE id = $1`, [id]);
    expect(row).toEqual({ settled_reason: 'reevaluation_denied', token_redeemed_at: null, token_jti: null });
    // Denied for good: asking again issues nothing.
    expect((await redeem(id)).body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: expect.arrayContaining(reasons) });

    const audit = await events(id);
    const reevaluated = audit.filter((e) => e.type === 'approval.reevaluated');
    expect(reevaluated).toHaveLength(1);
    expect(reevaluated[0]).toMatchObject({ actor: 'gateway:gateway-1', data: { verdict: 'deny', scope: 'policy', reasons: expect.arrayContaining(reasons) } });
    if (policyVersion !== undefined) expect(reevaluated[0].data.policy_version).toBe(policyVersion);
    expect(audit.map((e) => e.type)).not.toContain('approval.token_redeemed');
    expect(audit.find((e) => e.type === 'approval.denied')).toMatchObject({ actor: 'system', data: { reason: 'reevaluation_denied' } });
    return reevaluated[0].data;
  }

  it('unchanged conditions: the token is issued exactly once, the re-evaluation is audited, and the session counters are not bumped', async () => {
    const version = await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const id = await park(who);
    await approve(id, who.human);
    const callsKey = `${env.redisPrefix}:session:${TENANT}:${who.session}:calls`;
    const callsBefore = await redis.zcard(callsKey);
    expect(callsBefore).toBe(1);

    const first = await redeem(id);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ auth_req_id: id, approval_token: expect.any(String) });
    const second = await redeem(id);
    expect(second.body.error).toBe('invalid_grant');

    expect(await redis.zcard(callsKey)).toBe(callsBefore);
    const audit = await events(id);
    expect(audit.filter((e) => e.type === 'approval.token_redeemed')).toHaveLength(1);
    const reevaluated = audit.filter((e) => e.type === 'approval.reevaluated');
    expect(reevaluated).toHaveLength(1);
    expect(reevaluated[0].data).toMatchObject({ verdict: 'allow', scope: 'policy', policy_version: version, reasons: ['payment_needs_approval'] });
    // Judged by the service's clock at the redeem, after the park.
    const [created] = audit.filter((e) => e.type === 'approval.created');
    expect(created).toBeDefined();
    expect(reevaluated[0].data.detail.clock.source).toBe('service');
    expect((await requestRow(env.db.url, id)).status).toBe('approved');
  });

  it('the delegation revoked after the approval: the revoke leaves the approved request alone, and the redeem denies it with delegation_revoked', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const id = await park(who);
    await approve(id, who.human);
    // The revoke rejects parked requests still pending; this one is already approved.
    const revoked = await call(api.url, 'DELETE', `/v1/delegations/${who.delegationId}`, { token: admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body.rejected_approvals).toEqual([]);
    expect((await requestRow(env.db.url, id)).status).toBe('approved');

    await expectDeniedAtRedeem(id, ['delegation_revoked', 'not_delegated']);
  });

  it('the human loses the entitlement after the approval: the redeem denies it with not_entitled', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const id = await park(who);
    await approve(id, who.human);
    const narrowed = await call(api.url, 'PUT', `/v1/approvers/${who.human}`, {
      token: admin,
      body: { display_name: who.human, entitlements: { tools: ['orders/*'] } },
    });
    expect(narrowed.status).toBe(200);

    await expectDeniedAtRedeem(id, ['not_entitled']);
  });

  it("a rule over the human's own entitlement reads them as they are at the redeem: cleared since the park (unrestricted for the built-in), denied by the rule", async () => {
    await publish({
      pay: PAY_WITH_APPROVAL,
      own: `@reason("own_entitlement_required")
forbid (principal, action == Action::"call_tool", resource) unless { context.human_entitlement.recorded && context.human_entitlement.covers_call };`,
    });
    const who = await delegated();
    expect(
      (await call(api.url, 'PUT', `/v1/approvers/${who.human}`, { token: admin, body: { display_name: who.human, entitlements: { tools: ['payments/*'] } } }))
        .status,
    ).toBe(200);
    const id = await park(who);
    await approve(id, who.human);
    // Omitted entitlements: none recorded, so the built-in intersection no longer restricts the human.
    expect((await call(api.url, 'PUT', `/v1/approvers/${who.human}`, { token: admin, body: { display_name: who.human } })).status).toBe(200);

    const decided = await expectDeniedAtRedeem(id, ['own_entitlement_required']);
    expect(decided.reasons).not.toContain('not_entitled');
  });

  it("a rule over the hop's delegation reads the one in force at the redeem: re-granted for another purpose since the park, denied by the rule", async () => {
    await publish({
      pay: PAY_WITH_APPROVAL,
      purpose: `@reason("purpose_not_invoicing")
forbid (principal, action == Action::"call_tool", resource) unless { context.delegation has purpose && context.delegation.purpose == "invoicing" };`,
    });
    const who = await delegated();
    // The grant delegated() made states no purpose: replace it by one for invoicing, park under that.
    expect((await call(api.url, 'DELETE', `/v1/delegations/${who.delegationId}`, { token: admin })).status).toBe(200);
    const invoicing = await call(api.url, 'POST', '/v1/delegations', {
      token: admin,
      body: { human: who.human, agent: who.agent, tools: ['payments/*'], purpose: 'invoicing' },
    });
    expect(invoicing.status).toBe(201);
    const id = await park(who);
    await approve(id, who.human);
    // The call's own delegation is left alone; a second grant for travel stands beside it.
    const travel = await call(api.url, 'POST', '/v1/delegations', {
      token: admin,
      body: { human: who.human, agent: who.agent, tools: ['payments/*'], purpose: 'travel' },
    });
    expect(travel.status).toBe(201);
    // Of the hop's delegations in force that cover the call, the newest is the one it acts under now.
    await expectDeniedAtRedeem(id, ['purpose_not_invoicing']);
  });

  it('a newly activated policy version with a hard cap forbids the approved call: denied with the cap and the version that decided', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const id = await park(who);
    await approve(id, who.human);
    const version = await publish({ pay: PAY_WITH_APPROVAL, cap: HARD_CAP });

    await expectDeniedAtRedeem(id, ['amount_over_cap'], version);
  });

  it('a newly activated policy version that no longer permits the call: denied with no_permit, even though the approval it asked for was given', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const id = await park(who);
    await approve(id, who.human);
    const version = await publish({
      reads_only: `@reason("reads_only") permit (principal, action == Action::"call_tool", resource) when { context.granted && context.action_category == "read" };`,
    });

    await expectDeniedAtRedeem(id, ['no_permit'], version);
  });

  it('a window that has closed since the park: the redeem is judged by the service clock, not the park’s observed_at, and denied', async () => {
    const now = Date.now();
    const closedAt = Math.floor(now / 1000) - 30;
    await publish({
      pay: PAY_WITH_APPROVAL,
      window: `@reason("outside_payment_window") forbid (principal, action == Action::"call_tool", resource) when { context.time.epoch_seconds >= ${closedAt} };`,
    });
    const who = await delegated();
    // Observed a minute ago, inside the window (and the skew): parked, not denied.
    const id = await park(who, { observed_at: new Date(now - 60_000).toISOString() });
    await approve(id, who.human);

    const data = await expectDeniedAtRedeem(id, ['outside_payment_window']);
    expect(data.detail.clock.source).toBe('service');
    expect(Date.parse(data.decided_at) / 1000).toBeGreaterThanOrEqual(closedAt);
  });

  it('push mode: a call that a new version forbids once it is approved is pushed as access_denied with the reasons, never with a token', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const path = `/push/reevaluated-${n}`;
    const id = await park(who, {
      delivery: { mode: 'push', notification_endpoint: callbacks.on(path, (res) => res.writeHead(204).end()), notification_token: 'push-secret-re' },
    });
    const version = await publish({ pay: PAY_WITH_APPROVAL, cap: HARD_CAP });
    await approve(id, who.human);

    const [push] = await eventually(async () => callbacks.requestsTo(path).length > 0 && callbacks.requestsTo(path));
    expect(push.headers.authorization).toBe('Bearer push-secret-re');
    expect(push.body).toMatchObject({
      auth_req_id: id,
      status: 'denied',
      error: 'access_denied',
      reason: 'reevaluation_denied',
      reasons: ['amount_over_cap'],
      policy_version: version,
    });
    expect(push.body.approval_token).toBeUndefined();
    await eventually(async () => (await requestRow(env.db.url, id)).callback_state === 'delivered');
    const row = await requestRow(env.db.url, id);
    expect(row.status).toBe('denied');
    const audit = await events(id);
    expect(audit.find((e) => e.type === 'approval.reevaluated')).toMatchObject({ actor: 'system', data: { verdict: 'deny', reasons: ['amount_over_cap'] } });
  });

  it('push mode, unchanged: the push carries the token, after an audited re-evaluation that allows', async () => {
    await publish({ pay: PAY_WITH_APPROVAL });
    const who = await delegated();
    const path = `/push/unchanged-${n}`;
    const id = await park(who, {
      delivery: { mode: 'push', notification_endpoint: callbacks.on(path, (res) => res.writeHead(204).end()), notification_token: 'push-secret-ok' },
    });
    await approve(id, who.human);
    const [push] = await eventually(async () => callbacks.requestsTo(path).length > 0 && callbacks.requestsTo(path));
    expect(push.body).toMatchObject({ auth_req_id: id, status: 'approved', approval_token: expect.any(String) });
    const audit = await events(id);
    expect(audit.find((e) => e.type === 'approval.reevaluated')).toMatchObject({ data: { verdict: 'allow', scope: 'policy' } });
  });

  describe('requests parked directly (POST /v1/approvals): no decision to repeat', () => {
    it('a delegation of ours that the gateway named, revoked after the approval, still denies', async () => {
      const who = await delegated();
      const body = parkBody({ delegator: { id: who.human, delegation_id: who.delegationId }, obligation: { approvers: [`user:${who.human}`] } });
      const parked = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(parked.status).toBe(200);
      const id = parked.body.auth_req_id;
      await approve(id, who.human);
      expect((await call(api.url, 'DELETE', `/v1/delegations/${who.delegationId}`, { token: admin })).body.rejected_approvals).toEqual([]);

      const res = await redeem(id);
      expect(res.body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: ['delegation_revoked'] });
      const audit = await events(id);
      expect(audit.find((e) => e.type === 'approval.reevaluated')).toMatchObject({
        data: { verdict: 'deny', scope: 'delegation', detail: { delegation_id: who.delegationId } },
      });
    });

    it('naming no delegation of ours: nothing is re-checked, the token is issued, and the audit says so (scope none)', async () => {
      const who = await delegated();
      const id = (await call(api.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ obligation: { approvers: [`user:${who.human}`] } }) })).body
        .auth_req_id;
      await approve(id, who.human);
      expect((await redeem(id)).status).toBe(200);
      const audit = await events(id);
      expect(audit.find((e) => e.type === 'approval.reevaluated')).toMatchObject({ data: { verdict: 'allow', scope: 'none' } });
    });
  });

  it('CIBA /oauth/token: a request a client parked through /oauth/bc-authorize is redeemed once, after an audited re-evaluation (scope none: no decision to repeat)', async () => {
    const reg = await call(api.url, 'PUT', '/v1/ciba-clients/gw-re', {
      token: await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:admin' }),
      body: { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic' },
    });
    expect(reg.status).toBe(201);
    const basic = `Basic ${Buffer.from(`gw-re:${encodeURIComponent(reg.body.client_secret)}`).toString('base64')}`;
    const form = async (path: string, params: Record<string, string>) => {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        body: new URLSearchParams(params),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const who = await delegated();
    const started = await form('/oauth/bc-authorize', {
      scope: 'openid',
      login_hint: who.human,
      binding_message: 'Pay 25,000 EUR',
      authorization_details: JSON.stringify([
        {
          type: 'tool_call',
          server: 'payments',
          tool: 'transfer_funds',
          arguments: { amount: 25000, currency: 'EUR' },
          intent: { text: 'pay the quarterly invoice', category: 'pay' },
          reason: 'Invoice INV-2026-0042 is due today',
          locations: ['https://payments.acme.example/mcp'],
        },
      ]),
    });
    expect(started.body).toMatchObject({ auth_req_id: expect.any(String) });
    const id = started.body.auth_req_id;
    await approve(id, who.human);
    const grant = { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: id };
    const tokens = await form('/oauth/token', grant);
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toEqual(expect.any(String));
    expect((await form('/oauth/token', grant)).body.error).toBe('invalid_grant');
    const audit = await events(id);
    expect(audit.filter((e) => e.type === 'approval.reevaluated')).toEqual([
      expect.objectContaining({ actor: 'client:gw-re', data: expect.objectContaining({ verdict: 'allow', scope: 'none' }) }),
    ]);
  });
});
