/**
 * Graduated autonomy end to end (issue 15): policies read the history of human decisions on a
 * kind of call (agent class, tool, classification) as `context.autonomy`; the approval obligation
 * goes away only where the policy says so, and a denial, a flag, a policy activation and an
 * admin's reset each restart the streak. Tenant-scoped, admin-only, bad input names the field.
 */
import { ReviewLinks } from '../../src/authz/reviews/review-links.service';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const STREAK = 3;
const POLICIES = {
  // Approval, unless the history says this kind of call has earned autonomy, outside production.
  'ask-until-trusted': `@obligation("human_approval") @approvers("user:bob")
    permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "deploy" }
    unless { context.autonomy.consecutive_approvals >= ${STREAK} && context.autonomy.days_since_last_denial >= 30 && context.environment != "production" };`,
  // What goes through without approval is still looked at afterwards.
  'deploy-reviewed': `@sampled_review("1") @reviewers("user:erin") permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "deploy" };`,
  'plain-read': `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "status" };`,
};

describe('graduated autonomy', () => {
  let env: TestEnvironment;
  let api: TestApp;
  const gateways: Record<string, string> = {};
  const agents: Record<string, string> = {};

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    for (const tenant of ['acme', 'globex']) {
      gateways[tenant] = await tenantToken(tenant);
      expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(tenant), body: { policies: POLICIES, activate: true } })).status).toBe(201);
      const delegations = await gatewayToken({ tenant, sub: 'idp', scope: 'countersign:delegations' });
      expect(
        (await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'ci-agent', tools: ['infra/*'] } })).status,
      ).toBe(201);
      agents[tenant] = await agentToken({ human: 'alice', actors: ['ci-agent'], tenant });
    }
  }, 60_000);
  afterAll(() => env?.teardown());

  const authorize = (classification: string, environment = 'staging', tenant = 'acme', tool = 'deploy') =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateways[tenant],
      body: {
        agent: { token: agents[tenant] },
        action: { server: 'infra', tool, arguments: { service: 'web', version: '1.2.3' } },
        intent: { category: 'admin' },
        resource: { id: 'svc-web', classification },
        environment,
      },
    });
  /** A call parked and decided by bob. */
  const decided = async (classification: string, decision: 'approve' | 'deny', tenant = 'acme') => {
    const parked = await authorize(classification, 'staging', tenant);
    expect(parked.status).toBe(202);
    const vote = await voteAs(api, { tenantId: tenant, approvalId: parked.body.auth_req_id, approverId: 'bob', decision, reason: `${decision}d in test` });
    expect(vote.status).toBe(200);
  };
  const earnAutonomy = async (classification: string, tenant = 'acme') => {
    for (let i = 0; i < STREAK; i++) await decided(classification, 'approve', tenant);
  };
  const kind = (classification: string) => ({ agent_class: 'assistant', server: 'infra', tool: 'deploy', resource_classification: classification });
  const view = async (classification: string, tenant = 'acme') => {
    const q = new URLSearchParams(kind(classification)).toString();
    const res = await call(api.url, 'GET', `/v1/autonomy?${q}`, { token: await adminToken(tenant) });
    expect(res.status).toBe(200);
    return res.body;
  };

  it('keeps asking until the policy says the streak is enough, and then only outside production', async () => {
    const c = 'internal';
    for (let i = 0; i < STREAK; i++) {
      expect((await view(c)).autonomy.consecutive_approvals).toBe(i);
      await decided(c, 'approve');
    }
    const allowed = await authorize(c);
    expect(allowed.status).toBe(200);
    expect(allowed.body.verdict).toBe('allow');
    expect(allowed.body.obligations.map((o: any) => o.type)).toEqual(['sampled_review']);
    expect((await authorize(c, 'production')).status).toBe(202);
    const [audit] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
      allowed.body.decision_id,
    ]);
    expect(audit.data.facts.autonomy).toMatchObject({ consecutive_approvals: STREAK, approvals: STREAK, denials: 0, days_since_last_denial: 36500 });
    // The production call parked and is still pending: undecided calls change nothing.
    expect((await view(c)).autonomy).toMatchObject({ consecutive_approvals: STREAK, approvals: STREAK, denials: 0, flags: 0 });
  }, 60_000);

  it('a denial restarts the streak (and the 30 days without one)', async () => {
    const c = 'internal';
    expect((await authorize(c)).status).toBe(200);
    await decided('confidential', 'approve'); // another kind of call: its own history
    const parked = await authorize(c, 'production');
    await voteAs(api, { approvalId: parked.body.auth_req_id, approverId: 'bob', decision: 'deny', reason: 'not today' });
    const after = await view(c);
    expect(after.autonomy).toMatchObject({ consecutive_approvals: 0, denials: 1, days_since_last_denial: 0 });
    expect(after.last_denial_at).not.toBeNull();
    expect((await authorize(c)).status).toBe(202);
    expect((await view('confidential')).autonomy).toMatchObject({ consecutive_approvals: 1, denials: 0 });
  }, 60_000);

  it('a flag on a call of that kind restarts the streak', async () => {
    const c = 'public';
    await earnAutonomy(c);
    const allowed = await authorize(c);
    expect(allowed.status).toBe(200);
    const reviewId = allowed.body.sampled_review.review_id;
    const { token } = await api.app.get(ReviewLinks).mint({ id: reviewId, tenantId: 'acme', expiresAt: new Date(Date.now() + 60_000) }, 'erin');
    const flagged = await fetch(`${api.url}/review/${reviewId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ link: token, answer: 'flag', reason: 'deployed outside the change window' }),
    });
    expect(flagged.status).toBe(200);
    expect((await view(c)).autonomy).toMatchObject({ consecutive_approvals: 0, approvals: STREAK, flags: 1, days_since_last_flag: 0 });
    expect((await authorize(c)).status).toBe(202);
  }, 60_000);

  it('activating a policy set restarts every streak', async () => {
    const c = 'restricted';
    await earnAutonomy(c);
    expect((await authorize(c)).status).toBe(200);
    expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } })).status).toBe(201);
    expect((await authorize(c)).status).toBe(202);
    const after = await view(c);
    expect(after.autonomy.consecutive_approvals).toBe(0);
    expect(after.policy_activated_at).not.toBeNull();
  }, 60_000);

  it("an admin sees and resets a kind of call's streak, audited, in their own tenant only", async () => {
    const c = 'pii';
    await earnAutonomy(c);
    await earnAutonomy(c, 'globex');
    expect((await authorize(c)).status).toBe(200);
    expect((await authorize(c, 'staging', 'globex')).status).toBe(200);
    const reset = await call(api.url, 'POST', '/v1/autonomy/reset', { token: await adminToken('acme'), body: kind(c) });
    expect(reset.status).toBe(200);
    expect(reset.body.autonomy.consecutive_approvals).toBe(0);
    expect(reset.body.reset_by).toMatch(/^admin:/);
    expect((await authorize(c)).status).toBe(202);
    // globex's history of the same kind is its own: untouched by acme's reset.
    expect((await view(c, 'globex')).autonomy.consecutive_approvals).toBe(STREAK);
    expect((await authorize(c, 'staging', 'globex')).status).toBe(200);
    const [event] = await sql<{ tenant_id: string; data: any }>(env.db.url, `SELECT tenant_id, data FROM audit_events WHERE type = 'autonomy.reset'`);
    expect(event).toMatchObject({ tenant_id: 'acme', data: { ...kind(c), ended_streak: STREAK } });
  }, 60_000);

  it('a set that does not read context.autonomy decides without it', async () => {
    const read = await authorize('internal', 'staging', 'acme', 'status');
    expect(read.status).toBe(200);
    await call(api.url, 'POST', '/v1/policies', {
      token: await adminToken('globex'),
      body: { policies: { 'plain-read': POLICIES['plain-read'] }, activate: true },
    });
    const other = await authorize('internal', 'staging', 'globex', 'status');
    const [audit] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
      other.body.decision_id,
    ]);
    expect(audit.data.facts).not.toHaveProperty('autonomy');
    const [reading] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
      read.body.decision_id,
    ]);
    expect(reading.data.facts).toHaveProperty('autonomy');
  });

  it('needs the admin scope, and bad input is a 400 naming the field', async () => {
    const q = new URLSearchParams(kind('internal')).toString();
    expect((await call(api.url, 'GET', `/v1/autonomy?${q}`, { token: gateways.acme })).status).toBe(403);
    expect((await call(api.url, 'GET', `/v1/autonomy?${q}`)).status).toBe(401);
    const missing = await call(api.url, 'GET', `/v1/autonomy?agent_class=assistant&server=infra&resource_classification=internal`, {
      token: await adminToken(),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.field).toBe('tool');
    const empty = await call(api.url, 'POST', '/v1/autonomy/reset', { token: await adminToken(), body: { ...kind('internal'), agent_class: '' } });
    expect(empty.status).toBe(400);
    expect(empty.body.field).toBe('agent_class');
    const extra = await call(api.url, 'POST', '/v1/autonomy/reset', { token: await adminToken(), body: { ...kind('internal'), streak: 5 } });
    expect(extra.status).toBe(400);
    expect(extra.body.field).toBe('streak');
    expect((await sql(env.db.url, `SELECT count(*)::int AS n FROM autonomy_resets WHERE resource_classification = 'internal'`))[0].n).toBe(0);
  });
});
