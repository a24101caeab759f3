/**
 * Built-in denies that hold whatever the tenant's policy set says (real HTTP, Postgres, Redis, two
 * instances), each with its own reason code:
 *
 * - `human_disabled`: the directory records a person's status (PUT /v1/approvers/:id `status`);
 *   every call on behalf of a disabled human is denied, under a permit-all set, through
 *   /v1/authorize, simulate and AuthZEN, and at redeem for a call approved before they were
 *   disabled; the calls still parked for them are rejected when they are disabled. No delegation
 *   can be granted for them, and they may not vote as an approver (nor be named as one).
 * - `tool_not_in_catalogue`: once a tenant has catalogued a tool, a call to any tool outside its
 *   catalogue (another tool of a catalogued server, or a server never registered) is denied; a
 *   tenant with no catalogue keeps evaluating every call as `call_tool`. A tool removed from the
 *   catalogue after a call was parked is denied at redeem.
 *
 * Both changes reach a second instance within a second. Each tenant here has its own role:
 * acme (permit-all, no catalogue), globex (permit-all, a catalogue), "a" (calls parked for approval).
 * The tests of each block run in order and build on each other's state.
 */
import { randomUUID } from 'node:crypto';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sql } from '../support/callback-server';
import { addApprovers } from '../support/directory';
import { agentToken, gatewayToken } from '../support/keys';
import { OPERATORS, operatorToken, SCRAPER_SUBJECT } from '../ops/operators';
import { until } from '../support/until';

const PERMIT_ALL = { all: 'permit (principal, action, resource);' };

describe('built-in denies, whatever the policy says', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  const admins: Record<string, string> = {};
  const gateways: Record<string, string> = {};

  const admin = (tenant: string) => admins[tenant];
  const publish = async (tenant: string, policies: Record<string, string>) => {
    const res = await call(a.url, 'POST', '/v1/policies', { token: admin(tenant), body: { policies, activate: true } });
    expect(res.status).toBe(201);
    return res.body.version as number;
  };
  const putPerson = (tenant: string, id: string, extra: Record<string, unknown> = {}, app = a) =>
    call(app.url, 'PUT', `/v1/approvers/${id}`, { token: admin(tenant), body: { display_name: id, ...extra } });
  const grant = (tenant: string, body: Record<string, unknown>) => call(a.url, 'POST', '/v1/delegations', { token: admin(tenant), body });
  const putServer = (tenant: string, server: string, tools: string[], app = a) =>
    call(app.url, 'PUT', `/v1/catalogue/servers/${server}`, {
      token: admin(tenant),
      body: { tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })) },
    });
  const envelope = async (tenant: string, human: string, agent: string, server: string, tool: string) => ({
    agent: { token: await agentToken({ tenant, human, actors: [agent] }) },
    action: { server, tool, arguments: {} },
    correlation: { mcp_session_id: `s-${randomUUID()}` },
  });
  const authorize = async (app: TestApp, tenant: string, human: string, agent: string, server: string, tool: string) =>
    call(app.url, 'POST', '/v1/authorize', { token: gateways[tenant], body: await envelope(tenant, human, agent, server, tool) });
  const simulate = async (tenant: string, human: string, agent: string, server: string, tool: string) =>
    call(a.url, 'POST', '/v1/authorize/simulate', { token: admin(tenant), body: await envelope(tenant, human, agent, server, tool) });
  const authzen = async (tenant: string, human: string, agent: string, server: string, tool: string) =>
    call(a.url, 'POST', '/access/v1/evaluation', {
      token: gateways[tenant],
      body: {
        subject: { type: 'agent', id: agent, properties: { token: await agentToken({ tenant, human, actors: [agent] }) } },
        action: { name: tool, properties: { server } },
        resource: { type: 'tool', id: tool },
        context: { correlation: { mcp_session_id: `z-${randomUUID()}` } },
      },
    });
  const decisionAudit = (decisionId: string) =>
    sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [decisionId]);

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(OPERATORS), env.start()]);
    for (const tenant of ['acme', 'globex', 'a']) {
      admins[tenant] = await gatewayToken({ tenant, sub: 'idp', scope: 'countersign:admin countersign:delegations' });
      gateways[tenant] = await tenantToken(tenant, 'gateway-1');
    }
    await publish('acme', PERMIT_ALL);
    await publish('globex', PERMIT_ALL);
  });
  afterAll(() => env.teardown());

  describe('a disabled human', () => {
    it('PUT /v1/approvers takes a status (validated), shows it, keeps it when absent, and audits each change', async () => {
      const bad = await putPerson('acme', 'st-val', { status: 'suspended' });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: 'invalid_request', field: 'status' });
      expect((await call(a.url, 'GET', '/v1/approvers/st-val', { token: admin('acme') })).status).toBe(404);

      const created = await putPerson('acme', 'st-val');
      expect(created.status).toBe(201);
      expect(created.body.status).toBe('active');
      expect((await putPerson('acme', 'st-val', { status: 'disabled' })).body.status).toBe('disabled');
      // A PUT that edits the name only never re-enables the person.
      const renamed = await putPerson('acme', 'st-val', { display_name: 'Renamed' });
      expect(renamed.body).toMatchObject({ display_name: 'Renamed', status: 'disabled' });
      expect((await call(a.url, 'GET', '/v1/approvers/st-val', { token: admin('acme') })).body.status).toBe('disabled');
      const list = await call(a.url, 'GET', '/v1/approvers?after=st-', { token: admin('acme') });
      expect(list.body.approvers.find((p: { id: string }) => p.id === 'st-val').status).toBe('disabled');
      expect((await putPerson('acme', 'st-val', { status: 'active' })).body.status).toBe('active');

      const audit = await sql<{ type: string; data: any }>(
        env.db.url,
        `SELECT type, data FROM audit_events WHERE type LIKE 'directory.approver_%' AND tenant_id = 'acme' AND data->>'approver' = 'st-val' ORDER BY id`,
      );
      expect(audit.map((e) => [e.type, e.data.status, e.data.previous_status])).toEqual([
        ['directory.approver_created', 'active', undefined],
        ['directory.approver_updated', 'disabled', 'active'],
        ['directory.approver_updated', 'disabled', 'disabled'],
        ['directory.approver_updated', 'active', 'disabled'],
      ]);
    });

    it('every call on their behalf is denied human_disabled under a permit-all set, in simulate and AuthZEN too; enabled again, allowed', async () => {
      expect((await putPerson('acme', 'st-call')).status).toBe(201);
      expect((await grant('acme', { human: 'st-call', agent: 'st-agent', tools: ['*'] })).status).toBe(201);
      expect((await authorize(a, 'acme', 'st-call', 'st-agent', 'docs', 'read_document')).body.verdict).toBe('allow');

      expect((await putPerson('acme', 'st-call', { status: 'disabled' })).status).toBe(200);
      const denied = await authorize(a, 'acme', 'st-call', 'st-agent', 'docs', 'read_document');
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({ verdict: 'deny', reasons: ['human_disabled'] });
      const [row] = await decisionAudit(denied.body.decision_id);
      expect(row.data).toMatchObject({ verdict: 'deny', reasons: ['human_disabled'], facts: { user: { status: 'disabled' } } });
      // Beside the other built-ins: a call outside the delegation names both.
      const outside = await authorize(a, 'acme', 'st-call', 'st-other-agent', 'docs', 'read_document');
      expect(outside.body.reasons).toEqual(expect.arrayContaining(['human_disabled', 'no_delegation']));

      const simulated = await simulate('acme', 'st-call', 'st-agent', 'docs', 'read_document');
      expect(simulated.body).toMatchObject({ verdict: 'deny', reasons: ['human_disabled'], facts: { user: { status: 'disabled' } } });
      const zen = await authzen('acme', 'st-call', 'st-agent', 'docs', 'read_document');
      expect(zen.status).toBe(200);
      expect(zen.body).toMatchObject({ decision: false, context: { reasons: ['human_disabled'] } });

      expect((await putPerson('acme', 'st-call', { status: 'active' })).status).toBe(200);
      expect((await authorize(a, 'acme', 'st-call', 'st-agent', 'docs', 'read_document')).body.verdict).toBe('allow');
      // The same id disabled in another tenant's directory changes nothing here.
      expect((await putPerson('globex', 'st-call', { status: 'disabled' })).status).toBe(201);
      expect((await authorize(a, 'acme', 'st-call', 'st-agent', 'docs', 'read_document')).body.verdict).toBe('allow');
    });

    it('a policy reads the status as context.user.status', async () => {
      expect((await putPerson('globex', 'st-policy', { status: 'disabled' })).status).toBe(201);
      await publish('globex', {
        ...PERMIT_ALL,
        disabled: '@reason("policy_saw_disabled") forbid (principal, action, resource) when { context.user.status == "disabled" };',
      });
      const res = await simulate('globex', 'st-policy', 'st-policy-agent', 'docs', 'read_document');
      expect(res.body.reasons).toEqual(expect.arrayContaining(['human_disabled', 'policy_saw_disabled']));
      await publish('globex', PERMIT_ALL);
    });

    it('a delegation for a disabled human is refused with a 400 naming the field; enabled again, it is granted', async () => {
      expect((await putPerson('acme', 'st-grant', { status: 'disabled' })).status).toBe(201);
      const refused = await grant('acme', { human: 'st-grant', agent: 'st-grant-agent', tools: ['docs/*'] });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_request', field: 'human' });
      expect(refused.body.error_description).toContain('disabled');
      expect(await sql(env.db.url, `SELECT id FROM delegations WHERE human_id = 'st-grant'`)).toEqual([]);
      expect((await putPerson('acme', 'st-grant', { status: 'active' })).status).toBe(200);
      expect((await grant('acme', { human: 'st-grant', agent: 'st-grant-agent', tools: ['docs/*'] })).status).toBe(201);
    });

    it('disabled on instance A, the next call on instance B is denied within a second', async () => {
      expect((await putPerson('acme', 'st-prop')).status).toBe(201);
      expect((await grant('acme', { human: 'st-prop', agent: 'st-prop-agent', tools: ['*'] })).status).toBe(201);
      // Warm B's cache, so that what B answers next comes from the invalidation, not a cold read.
      expect((await authorize(b, 'acme', 'st-prop', 'st-prop-agent', 'docs', 'read_document')).body.verdict).toBe('allow');
      const t0 = Date.now();
      expect((await putPerson('acme', 'st-prop', { status: 'disabled' })).status).toBe(200);
      const out = await until(
        () => authorize(b, 'acme', 'st-prop', 'st-prop-agent', 'docs', 'read_document'),
        (r) => r.body?.verdict === 'deny',
        t0,
      );
      console.log(`disabling propagation to instance B (ms): ${out.elapsed}`);
      expect(out.res.body).toMatchObject({ verdict: 'deny', reasons: ['human_disabled'] });
      expect(out.elapsed).toBeLessThan(1000);
    });

    it('a disabled approver may not vote: their link is refused with a 403 and nothing is recorded', async () => {
      const gateway = gateways.acme;
      const parked = await call(a.url, 'POST', '/v1/approvals', {
        token: gateway,
        body: parkBody({ obligation: { approvers: ['user:st-voter', 'user:bob'], quorum: 1 } }),
      });
      // st-voter does not exist yet: refused as before.
      expect(parked.status).toBe(400);
      expect((await putPerson('acme', 'st-voter')).status).toBe(201);
      const id = (
        await call(a.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ obligation: { approvers: ['user:st-voter', 'user:bob'], quorum: 1 } }) })
      ).body.auth_req_id;
      expect(id).toEqual(expect.any(String));

      expect((await putPerson('acme', 'st-voter', { status: 'disabled' })).status).toBe(200);
      const vote = await voteAs(a, { approvalId: id, approverId: 'st-voter', decision: 'approve', reason: 'looks fine' });
      expect(vote.status).toBe(403);
      expect(vote.body.error_description).toContain('disabled');
      expect((await call(a.url, 'GET', `/v1/approvals/${id}`, { token: gateway })).body.status).toBe('pending');
      expect(await sql(env.db.url, `SELECT approver_id FROM approval_votes WHERE approval_id = $1`, [id])).toEqual([]);

      // Enabled again, the same link-holder votes.
      expect((await putPerson('acme', 'st-voter', { status: 'active' })).status).toBe(200);
      expect((await voteAs(a, { approvalId: id, approverId: 'st-voter', decision: 'approve', reason: 'looks fine' })).body.status).toBe('approved');
    });

    it('a request naming a disabled approver is refused (nobody could answer it), and a group does not count its disabled members', async () => {
      const gateway = gateways.acme;
      expect((await putPerson('acme', 'st-voter', { status: 'disabled' })).status).toBe(200);
      const named = await call(a.url, 'POST', '/v1/approvals', {
        token: gateway,
        body: parkBody({ obligation: { approvers: ['user:bob', 'user:st-voter'], quorum: 2 } }),
      });
      expect(named.status).toBe(400);
      expect(named.body).toMatchObject({ field: 'obligation.approvers[1]' });
      expect(named.body.error_description).toMatch(/"st-voter", who is disabled/);
      const asDelegator = await call(a.url, 'POST', '/v1/approvals', {
        token: gateway,
        body: parkBody({ delegator: { id: 'st-voter' }, obligation: { approvers: ['delegator'] } }),
      });
      expect(asDelegator.status).toBe(400);
      expect(asDelegator.body).toMatchObject({ field: 'obligation.approvers[0]' });
      expect(asDelegator.body.error_description).toMatch(/delegator "st-voter", who is disabled/);
      // Through a group: not counted toward the quorum.
      expect((await call(a.url, 'PUT', '/v1/approver-groups/st-group', { token: admin('acme'), body: { members: ['bob', 'st-voter'] } })).status).toBe(201);
      const group = await call(a.url, 'POST', '/v1/approvals', {
        token: gateway,
        body: parkBody({ obligation: { approvers: ['group:st-group'], quorum: 2 } }),
      });
      expect(group.status).toBe(400);
      expect(group.body.error_description).toMatch(/quorum.*is 2 but only 1 distinct approver/);
      expect((await call(a.url, 'PUT', '/v1/approver-groups/st-only', { token: admin('acme'), body: { members: ['st-voter'] } })).status).toBe(201);
      const only = await call(a.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ obligation: { approvers: ['group:st-only'] } }) });
      expect(only.status).toBe(400);
      expect(only.body.error_description).toMatch(/group "st-only", whose members are all disabled/);
      // Active again, the same group and quorum park.
      expect((await putPerson('acme', 'st-voter', { status: 'active' })).status).toBe(200);
      expect(
        (await call(a.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ obligation: { approvers: ['group:st-group'], quorum: 2 } }) })).status,
      ).toBe(200);
    });
  });

  describe('a tool outside the catalogue', () => {
    beforeAll(async () => {
      expect((await putPerson('globex', 'cat-human')).status).toBe(201);
      expect((await grant('globex', { human: 'cat-human', agent: 'cat-agent', tools: ['*'] })).status).toBe(201);
      expect((await putPerson('acme', 'cat-human')).status).toBe(201);
      expect((await grant('acme', { human: 'cat-human', agent: 'cat-agent', tools: ['*'] })).status).toBe(201);
    });

    it('a tenant with no catalogued tool keeps evaluating every call as call_tool', async () => {
      expect((await authorize(a, 'globex', 'cat-human', 'cat-agent', 'payments', 'refund')).body.verdict).toBe('allow');
    });

    it('once the tenant has one, an uncatalogued tool of any server is denied tool_not_in_catalogue under a permit-all set; other tenants are unaffected', async () => {
      expect((await putServer('globex', 'payments', ['transfer_funds', 'get_balance'])).status).toBe(201);
      expect((await authorize(a, 'globex', 'cat-human', 'cat-agent', 'payments', 'transfer_funds')).body.verdict).toBe('allow');

      const sameServer = await authorize(a, 'globex', 'cat-human', 'cat-agent', 'payments', 'refund');
      expect(sameServer.status).toBe(403);
      expect(sameServer.body).toMatchObject({ verdict: 'deny', reasons: ['tool_not_in_catalogue'] });
      const [row] = await decisionAudit(sameServer.body.decision_id);
      expect(row.data).toMatchObject({ verdict: 'deny', reasons: ['tool_not_in_catalogue'] });
      expect((await authorize(a, 'globex', 'cat-human', 'cat-agent', 'docs', 'read_document')).body).toMatchObject({
        verdict: 'deny',
        reasons: ['tool_not_in_catalogue'],
      });
      expect((await simulate('globex', 'cat-human', 'cat-agent', 'docs', 'read_document')).body).toMatchObject({
        verdict: 'deny',
        reasons: ['tool_not_in_catalogue'],
      });
      const zen = await authzen('globex', 'cat-human', 'cat-agent', 'payments', 'refund');
      expect(zen.body).toMatchObject({ decision: false, context: { reasons: ['tool_not_in_catalogue'] } });
      expect((await authzen('globex', 'cat-human', 'cat-agent', 'payments', 'get_balance')).body).toEqual({ decision: true });
      // acme has no catalogue.
      expect((await authorize(a, 'acme', 'cat-human', 'cat-agent', 'payments', 'refund')).body.verdict).toBe('allow');
    });

    it('a tool removed from the catalogue on instance A is denied on instance B within a second', async () => {
      expect((await authorize(b, 'globex', 'cat-human', 'cat-agent', 'payments', 'get_balance')).body.verdict).toBe('allow');
      const t0 = Date.now();
      expect((await putServer('globex', 'payments', ['transfer_funds'])).status).toBe(200);
      const out = await until(
        () => authorize(b, 'globex', 'cat-human', 'cat-agent', 'payments', 'get_balance'),
        (r) => r.body?.verdict === 'deny',
        t0,
      );
      console.log(`catalogue removal propagation to instance B (ms): ${out.elapsed}`);
      expect(out.res.body).toMatchObject({ verdict: 'deny', reasons: ['tool_not_in_catalogue'] });
      expect(out.elapsed).toBeLessThan(1000);
    });

    it('the reason codes reach /metrics', async () => {
      const scraper = await operatorToken(SCRAPER_SUBJECT);
      const text = (await call<string>(a.url, 'GET', '/metrics', { token: scraper })).body;
      for (const reason of ['tool_not_in_catalogue', 'human_disabled']) {
        expect(text).toMatch(new RegExp(`^countersign_decisions_total\\{verdict="deny",reason="${reason}"\\} [1-9]`, 'm'));
      }
    });
  });

  describe('re-evaluation at redeem', () => {
    const TENANT = 'a';
    const PAY_WITH_APPROVAL = `@reason("payment_needs_approval")
@obligation("human_approval")
@approvers("user:bob")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`;
    let n = 0;

    /** A human who delegated payments to an agent, with a 25,000 EUR payment parked (bob approves it unless told not to). */
    async function parkedAndApproved({ approve = true } = {}) {
      const human = `rd${++n}-alice`;
      const agent = `rd${n}-payer`;
      await addApprovers(env.db.url, TENANT, [human]);
      expect((await grant(TENANT, { human, agent, tools: ['payments/*'] })).status).toBe(201);
      const parked = await call(a.url, 'POST', '/v1/authorize', {
        token: gateways[TENANT],
        body: {
          agent: { token: await agentToken({ tenant: TENANT, human, actors: [agent] }) },
          action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR' } },
          reason: 'Invoice INV-42',
          correlation: { mcp_session_id: `rd-${randomUUID()}` },
        },
      });
      expect(parked.status).toBe(202);
      const id = parked.body.auth_req_id as string;
      if (!approve) return { human, id };
      const vote = await voteAs(a, { tenantId: TENANT, approvalId: id, approverId: 'bob', decision: 'approve', reason: 'invoice checked' });
      expect(vote.body.status).toBe('approved');
      return { human, id };
    }

    async function expectDeniedAtRedeem(id: string, reason: string) {
      const res = await call(a.url, 'POST', `/v1/approvals/${id}/token`, { token: gateways[TENANT] });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: [reason] });
      expect(res.body.approval_token).toBeUndefined();
      const [row] = await sql(env.db.url, `SELECT status, settled_reason, token_jti FROM approval_requests WHERE id = $1`, [id]);
      expect(row).toEqual({ status: 'denied', settled_reason: 'reevaluation_denied', token_jti: null });
      const [audited] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE approval_id = $1 AND type = 'approval.reevaluated'`, [id]);
      expect(audited.data).toMatchObject({ verdict: 'deny', scope: 'policy', reasons: [reason] });
    }

    beforeAll(async () => {
      await publish(TENANT, { pay: PAY_WITH_APPROVAL });
    });

    it('a human disabled after the approval: the redeem denies it with human_disabled', async () => {
      const { human, id } = await parkedAndApproved();
      expect((await putPerson(TENANT, human, { status: 'disabled' })).status).toBe(200);
      await expectDeniedAtRedeem(id, 'human_disabled');
    });

    it('a call parked directly (POST /v1/approvals) for a human disabled after the approval is denied at redeem too (scope human)', async () => {
      const human = `rd${++n}-direct`;
      await addApprovers(env.db.url, TENANT, [human]);
      const body = parkBody({ delegator: { id: human }, obligation: { approvers: ['user:bob'] } });
      const parked = await call(a.url, 'POST', '/v1/approvals', { token: gateways[TENANT], body });
      expect(parked.status).toBe(200);
      const id = parked.body.auth_req_id;
      expect((await voteAs(a, { tenantId: TENANT, approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' })).body.status).toBe('approved');
      expect((await putPerson(TENANT, human, { status: 'disabled' })).status).toBe(200);
      const res = await call(a.url, 'POST', `/v1/approvals/${id}/token`, { token: gateways[TENANT] });
      expect(res.body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: ['human_disabled'] });
      const [audited] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE approval_id = $1 AND type = 'approval.reevaluated'`, [id]);
      expect(audited.data).toMatchObject({ verdict: 'deny', scope: 'human', reasons: ['human_disabled'] });
    });

    it('disabling a human rejects the calls still pending on their behalf at once, as revoking a delegation does', async () => {
      const { human, id } = await parkedAndApproved({ approve: false });
      const other = await parkedAndApproved({ approve: false });
      expect((await putPerson(TENANT, human, { status: 'disabled' })).status).toBe(200);
      const [row] = await sql(env.db.url, `SELECT status, settled_reason FROM approval_requests WHERE id = $1`, [id]);
      expect(row).toEqual({ status: 'denied', settled_reason: 'human_disabled' });
      const [denied] = await sql<{ actor: string; data: any }>(
        env.db.url,
        `SELECT actor, data FROM audit_events WHERE approval_id = $1 AND type = 'approval.denied'`,
        [id],
      );
      expect(denied).toMatchObject({ actor: 'system', data: { reason: 'human_disabled' } });
      expect((await call(a.url, 'GET', `/v1/approvals/${id}`, { token: gateways[TENANT] })).body.status).toBe('denied');
      // Another human's request is left alone.
      expect((await call(a.url, 'GET', `/v1/approvals/${other.id}`, { token: gateways[TENANT] })).body.status).toBe('pending');
    });

    it('unchanged, a parked catalogued call is redeemed; a tool removed from the catalogue after the approval is denied tool_not_in_catalogue', async () => {
      expect((await putServer(TENANT, 'payments', ['transfer_funds'])).status).toBe(201);
      expect((await putServer(TENANT, 'docs', ['read_document'])).status).toBe(201);
      const unchanged = await parkedAndApproved();
      expect((await call(a.url, 'POST', `/v1/approvals/${unchanged.id}/token`, { token: gateways[TENANT] })).status).toBe(200);

      const { id } = await parkedAndApproved();
      // The docs server keeps the catalogue non-empty: payments/transfer_funds is now outside it.
      expect((await call(a.url, 'DELETE', '/v1/catalogue/servers/payments', { token: admin(TENANT) })).status).toBe(204);
      await expectDeniedAtRedeem(id, 'tool_not_in_catalogue');
    });
  });
});
