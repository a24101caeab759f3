/**
 * Policy sets end to end over real HTTP, Postgres and Redis: publish (valid and invalid),
 * list, read, activate, roll back, immutability in the database, activation reaching a second
 * instance, tool_categories overrides, simulation without side effects, scopes and tenants.
 *
 * The tests run in order and build on each other's versions:
 *   v1 = starter set + "payments frozen" forbid, v2 = starter set, v3 = starter set with
 *   crm/sync_contacts re-mapped to read.
 */
import { randomUUID } from 'node:crypto';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const FREEZE_PAYMENTS = `@reason("payments_frozen")
forbid (principal, action == Action::"call_tool", resource) when { context.server == "payments" };`;
const FROZEN = { ...STARTER_POLICIES, 'freeze-payments': FREEZE_PAYMENTS };

describe('policy sets: publish, activate, roll back, simulate', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  let agent: string;
  const propagation: Record<string, number> = {};

  const policyEvents = () => sql(env.db.url, `SELECT type, actor, data FROM audit_events WHERE type LIKE 'policy.%' AND tenant_id = 'acme' ORDER BY id`);
  const counts = async () =>
    (
      await sql(
        env.db.url,
        `SELECT (SELECT count(*) FROM audit_events)::int AS audit, (SELECT count(*) FROM approval_requests)::int AS approvals,
                (SELECT count(*) FROM policy_sets)::int AS versions`,
      )
    )[0];
  const session = () => `sess-${randomUUID()}`;
  /** A transfer of `amount` on server "payments", in a fresh MCP session so velocity never steps it up. */
  const envelope = (amount = 10, extra: Record<string, unknown> = {}) => ({
    agent: { token: agent },
    action: { server: 'payments', tool: 'transfer_funds', arguments: { amount, to: 'DE89370400440532013000' } },
    intent: { category: 'pay' },
    correlation: { mcp_session_id: session() },
    ...extra,
  });
  const transfer = (app: TestApp, amount = 10) => call(app.url, 'POST', '/v1/authorize', { token: gateway, body: envelope(amount) });
  const syncContacts = (app: TestApp) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: { agent: { token: agent }, action: { server: 'crm', tool: 'sync_contacts', arguments: {} }, correlation: { mcp_session_id: session() } },
    });
  const simulate = (body: unknown, token = admin, app = a) => call(app.url, 'POST', '/v1/authorize/simulate', { token, body });
  const activeVersion = async () => (await call(a.url, 'GET', '/v1/policies', { token: admin })).body.active_version;

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    agent = await agentToken({ human: 'alice', actors: ['pay-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(a.url, 'POST', '/v1/delegations', {
      token: delegations,
      body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*', 'crm/*'] },
    });
    expect(granted.status).toBe(201);
  });
  afterAll(async () => {
    // The measured propagation times, for the record.
    console.log(`activation propagation to instance B (ms): ${JSON.stringify(propagation)}`);
    await env.teardown();
  });

  it('with no version published the starter set (version 0) is in force: a small transfer is allowed', async () => {
    expect(await call(a.url, 'GET', '/v1/policies', { token: admin })).toMatchObject({ status: 200, body: { active_version: 0, versions: [] } });
    const res = await transfer(a);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ verdict: 'allow', policy: { id: 'acme/policy-set', version: 0 }, reasons: ['payment_below_threshold'] });
  });

  it('publishing a valid set is 201 with version 1, not active, and decisions keep following the starter set', async () => {
    const res = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: FROZEN, description: 'freeze payments' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      version: 1,
      active: false,
      description: 'freeze payments',
      policies: FROZEN,
      tool_categories: {},
      published_by: 'admin:idp',
    });
    expect(Date.now() - Date.parse(res.body.published_at)).toBeLessThan(60_000);
    expect(await activeVersion()).toBe(0);
    for (const app of [a, b]) expect((await transfer(app)).body).toMatchObject({ verdict: 'allow', policy: { version: 0 } });
  });

  it('GET /v1/policies lists the versions with active_version, and GET /v1/policies/1 returns that version', async () => {
    const list = await call(a.url, 'GET', '/v1/policies', { token: admin });
    expect(list.status).toBe(200);
    expect(list.body.active_version).toBe(0);
    expect(list.body.versions).toHaveLength(1);
    expect(list.body.versions[0]).toMatchObject({ version: 1, active: false, description: 'freeze payments', policies: FROZEN });

    const one = await call(a.url, 'GET', '/v1/policies/1', { token: admin });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(list.body.versions[0]);

    const missing = await call(a.url, 'GET', '/v1/policies/42', { token: admin });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });

  it('activating v1 puts it in force: the transfer the starter set allowed is now 403 with the freeze reason', async () => {
    const res = await call(a.url, 'POST', '/v1/policies/1/activate', { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ version: 1, previous: 0 });
    const denied = await transfer(a);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ verdict: 'deny', reasons: ['payments_frozen'], determining_policies: ['freeze-payments'], policy: { version: 1 } });
    // Other servers are untouched by the freeze.
    expect((await call(a.url, 'GET', '/v1/policies/1', { token: admin })).body.active).toBe(true);
    const audited = await sql(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
      denied.body.decision_id,
    ]);
    expect(audited[0].data).toMatchObject({ verdict: 'deny', policy_version: 1, reasons: ['payments_frozen'] });
  });

  const invalid: [string, Record<string, string>, RegExp][] = [
    ['a syntax error', { 'broken-syntax': 'permit (principal, action == Action::"call_tool", resource' }, /^broken-syntax: /],
    [
      'a context attribute the schema does not define',
      { 'undefined-fact': 'permit (principal, action == Action::"call_tool", resource) when { context.no_such_fact == "x" };' },
      /undefined-fact: .*no_such_fact/,
    ],
    [
      'an @obligation with no @approvers',
      { 'no-approvers': '@obligation("human_approval") permit (principal, action == Action::"call_tool", resource) when { context.granted };' },
      /no-approvers: @obligation\("human_approval"\) needs @approvers/,
    ],
    [
      'a @quorum that is not a number',
      {
        'bad-quorum':
          '@obligation("human_approval") @approvers("delegator") @quorum("two") permit (principal, action == Action::"call_tool", resource) when { context.granted };',
      },
      /bad-quorum: @quorum must be a number/,
    ],
    [
      'an @obligation on a forbid',
      {
        'forbid-obligation':
          '@obligation("human_approval") @approvers("delegator") forbid (principal, action == Action::"call_tool", resource) when { context.bulk };',
      },
      /forbid-obligation: @obligation belongs on a permit/,
    ],
  ];

  it.each(invalid)(
    'publishing a set with %s is 400 invalid_policy with the validator messages; no version, active one untouched',
    async (_what, bad, message) => {
      const before = await counts();
      const res = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: { ...STARTER_POLICIES, ...bad }, activate: true } });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_policy');
      expect(res.body.field).toBe('policies');
      expect(Array.isArray(res.body.errors)).toBe(true);
      expect(res.body.errors.some((e: string) => message.test(e))).toBe(true);
      // Only the bad policy is blamed, never the valid starter policies beside it.
      for (const e of res.body.errors as string[]) expect(e.startsWith(Object.keys(bad)[0])).toBe(true);
      const after = await counts();
      expect(after.versions).toBe(before.versions);
      expect(after.audit).toBe(before.audit);
      expect(await activeVersion()).toBe(1);
      expect((await transfer(a)).body).toMatchObject({ verdict: 'deny', reasons: ['payments_frozen'], policy: { version: 1 } });
    },
  );

  it('a body with no policies, an empty set or an unknown category is 400 naming the field', async () => {
    const rows: [unknown, string][] = [
      [{}, 'policies'],
      [{ policies: {} }, 'policies'],
      [{ policies: { 'bad id!': 'permit (principal, action, resource);' } }, 'policies.bad id!'],
      [{ policies: FROZEN, tool_categories: { 'crm/x': 'teleport' } }, 'tool_categories.crm/x'],
      [{ policies: FROZEN, activate: 'yes' }, 'activate'],
      [{ policies: FROZEN, version: 7 }, 'version'],
    ];
    for (const [body, field] of rows) {
      const res = await call(a.url, 'POST', '/v1/policies', { token: admin, body });
      expect({ status: res.status, error: res.body.error, field: res.body.field }).toEqual({ status: 400, error: 'invalid_request', field });
    }
    expect((await counts()).versions).toBe(1);
  });

  it('an activation on instance A reaches instance B within a second, and so does the roll back', async () => {
    const v2 = await call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies: STARTER_POLICIES, description: 'starter' } });
    expect(v2.body).toMatchObject({ version: 2, active: false });
    // B has v1 compiled and cached.
    expect((await transfer(b)).body).toMatchObject({ verdict: 'deny', policy: { version: 1 } });

    let t0 = Date.now();
    const activated = await call(a.url, 'POST', '/v1/policies/2/activate', { token: admin });
    expect(activated.body).toEqual({ version: 2, previous: 1 });
    const forward = await until(
      () => transfer(b),
      (r) => r.status === 200,
      t0,
    );
    propagation.activate = forward.elapsed;
    expect(forward.res.body).toMatchObject({ verdict: 'allow', policy: { version: 2 }, reasons: ['payment_below_threshold'] });
    expect(forward.elapsed).toBeLessThan(1000);
    // B's cache was fresh when the activation happened: only the pub/sub message explains a fast switch
    // (the 1 s re-check alone would take ~1000 ms here).
    expect(forward.elapsed).toBeLessThan(500);

    // Roll back: activate the older version; the freeze is back on both instances.
    t0 = Date.now();
    const rolledBack = await call(a.url, 'POST', '/v1/policies/1/activate', { token: admin });
    expect(rolledBack.body).toEqual({ version: 1, previous: 2 });
    const back = await until(
      () => transfer(b),
      (r) => r.status === 403,
      t0,
    );
    propagation.rollback = back.elapsed;
    expect(back.res.body).toMatchObject({ verdict: 'deny', reasons: ['payments_frozen'], policy: { version: 1 } });
    expect(back.elapsed).toBeLessThan(1000);
    expect(back.elapsed).toBeLessThan(500);
    expect((await transfer(a)).status).toBe(403);
    expect(await activeVersion()).toBe(1);
  });

  it('an activation whose pub/sub message never arrives still reaches both instances within about a second', async () => {
    // Warm both caches on v1, then switch the row behind the service's back (no message sent).
    for (const app of [a, b]) expect((await transfer(app)).status).toBe(403);
    const t0 = Date.now();
    await sql(env.db.url, `UPDATE active_policy_sets SET version = 2 WHERE tenant_id = 'acme'`);
    const [ra, rb] = await Promise.all(
      [a, b].map((app) =>
        until(
          () => transfer(app),
          (r) => r.status === 200,
          t0,
        ),
      ),
    );
    propagation.without_message = Math.max(ra.elapsed, rb.elapsed);
    expect(ra.res.body.policy.version).toBe(2);
    expect(rb.res.body.policy.version).toBe(2);
    expect(Math.max(ra.elapsed, rb.elapsed)).toBeLessThan(1500);
    // Back to v1 through the API.
    expect((await call(a.url, 'POST', '/v1/policies/1/activate', { token: admin })).body).toEqual({ version: 1, previous: 2 });
  });

  it('activating a version that was never published is 400 naming version, and the active version stays', async () => {
    for (const v of ['99', '0']) {
      const res = await call(a.url, 'POST', `/v1/policies/${v}/activate`, { token: admin });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field: 'version' });
      expect(res.body.error_description).toContain('version');
    }
    expect(await activeVersion()).toBe(1);
    expect((await transfer(b)).status).toBe(403);
  });

  it('a version in the path that is not a positive 32-bit integer is 400 naming version, never a server error', async () => {
    for (const v of ['abc', '1.5', '-1', '0', '99999999999', '2147483648', '1e3']) {
      for (const [method, path] of [
        ['GET', `/v1/policies/${v}`],
        ['POST', `/v1/policies/${v}/activate`],
      ]) {
        const res = await call(a.url, method, path, { token: admin });
        expect({ path, status: res.status, error: res.body.error, field: res.body.field }).toEqual({
          path,
          status: 400,
          error: 'invalid_request',
          field: 'version',
        });
      }
    }
    // The largest valid number is merely unknown.
    expect((await call(a.url, 'GET', '/v1/policies/2147483647', { token: admin })).status).toBe(404);
    expect(await activeVersion()).toBe(1);
  });

  it('published versions are immutable: the database refuses to UPDATE their policies or categories and to DELETE them', async () => {
    await expect(sql(env.db.url, `UPDATE policy_sets SET policies = '{}' WHERE tenant_id = 'acme' AND version = 1`)).rejects.toThrow(/immutable/);
    await expect(sql(env.db.url, `UPDATE policy_sets SET tool_categories = '{"payments/*": "read"}' WHERE tenant_id = 'acme' AND version = 1`)).rejects.toThrow(
      /immutable/,
    );
    await expect(sql(env.db.url, `UPDATE policy_sets SET version = 77 WHERE tenant_id = 'acme' AND version = 1`)).rejects.toThrow(/immutable/);
    await expect(sql(env.db.url, `DELETE FROM policy_sets WHERE tenant_id = 'acme' AND version = 2`)).rejects.toThrow(/cannot be deleted/);
    const one = await call(a.url, 'GET', '/v1/policies/1', { token: admin });
    expect(one.body.policies).toEqual(FROZEN);
    expect((await call(a.url, 'GET', '/v1/policies', { token: admin })).body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  });

  it('tool_categories re-map a tool: "crm/sync_contacts" (export by its name) mapped to read is allowed', async () => {
    // Under the starter rules an export needs a stated reason: without one it is denied.
    expect(await activeVersion()).toBe(1);
    const asExport = await syncContacts(a);
    expect(asExport.status).toBe(403);
    expect(asExport.body.reasons).toContain('reason_required');
    const factsBefore = await simulate({ agent: { token: agent }, action: { server: 'crm', tool: 'sync_contacts', arguments: {} } });
    expect(factsBefore.body.facts.action_category).toBe('export');

    const v3 = await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: { policies: STARTER_POLICIES, tool_categories: { 'crm/sync_contacts': 'read' }, description: 'sync is a read', activate: true },
    });
    expect(v3.status).toBe(201);
    expect(v3.body).toMatchObject({ version: 3, active: true, tool_categories: { 'crm/sync_contacts': 'read' } });

    const asRead = await syncContacts(a);
    expect(asRead.status).toBe(200);
    expect(asRead.body).toMatchObject({ verdict: 'allow', reasons: ['granted_read'], policy: { version: 3 } });
    const factsAfter = await simulate({ agent: { token: agent }, action: { server: 'crm', tool: 'sync_contacts', arguments: {} } });
    expect(factsAfter.body.facts.action_category).toBe('read');
    // The override is for that tool alone: another export-named tool on crm is still an export.
    const other = await simulate({ agent: { token: agent }, action: { server: 'crm', tool: 'export_contacts', arguments: {} } });
    expect(other.body.facts.action_category).toBe('export');
  });

  it('a "server/*" category applies to every tool of the server, and an exact "server/tool" entry beats it', async () => {
    const v4 = await call(a.url, 'POST', '/v1/policies', {
      token: admin,
      body: { policies: STARTER_POLICIES, tool_categories: { 'crm/*': 'read', 'crm/purge_contacts': 'delete' }, activate: true },
    });
    expect(v4.body).toMatchObject({ version: 4, active: true });
    const category = async (tool: string) =>
      (await simulate({ agent: { token: agent }, action: { server: 'crm', tool, arguments: {} } })).body.facts.action_category;
    expect(await category('export_contacts')).toBe('read');
    expect(await category('frobnicate')).toBe('read');
    expect(await category('purge_contacts')).toBe('delete');
    // Another server keeps the name-based guess.
    const pay = await simulate(envelope(10));
    expect(pay.body.facts.action_category).toBe('pay');
  });

  it('simulate returns the verdict, determining policies and facts, and writes no audit row and parks nothing', async () => {
    const before = await counts();
    // 25,000 is above the approval threshold: a real decision would park the call.
    const big = await simulate(envelope(25_000, { reason: 'quarterly invoice' }));
    expect(big.status).toBe(200);
    expect(big.body).toMatchObject({
      verdict: 'allow_with_obligations',
      determining_policies: ['approve-large-payments'],
      reasons: ['payment_above_threshold'],
      obligations: [expect.objectContaining({ type: 'human_approval', approvers: ['delegator', 'group:finance'], quorum: 1 })],
      policy: { id: 'acme/policy-set', version: 4 },
      facts: expect.objectContaining({ agent_id: 'pay-agent', human: 'alice', granted: true, amount: 25_000, action_category: 'pay', server: 'payments' }),
    });
    expect(big.body).not.toHaveProperty('auth_req_id');
    expect(big.body).not.toHaveProperty('decision_id');

    const denied = await simulate({ ...envelope(10), action: { server: 'hr', tool: 'read_salaries', arguments: {} } });
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({ verdict: 'deny', determining_policies: ['forbid-not-delegated'], facts: expect.objectContaining({ granted: false }) });
    expect(denied.body.reasons).toEqual(expect.arrayContaining(['not_delegated']));

    // A bad agent token is still a verdict (deny with its reason), with no facts.
    const badToken = await simulate({ ...envelope(10), agent: { token: 'not-a-jwt' } });
    expect(badToken.body).toMatchObject({ verdict: 'deny', reasons: ['agent_token_malformed'], facts: null });

    expect(await counts()).toEqual(before);
  });

  it('simulate does not count toward session velocity or prior denials, while a real decision does', async () => {
    const s = session();
    const probe = async () => (await simulate({ ...envelope(10), correlation: { mcp_session_id: s } })).body.facts;
    for (let i = 0; i < 3; i++) expect(await probe()).toMatchObject({ session_calls: 1, prior_denials: 0 });
    // Simulated denials are not remembered either.
    for (let i = 0; i < 3; i++) {
      const d = await simulate({ ...envelope(10), action: { server: 'hr', tool: 'read_salaries', arguments: {} }, correlation: { mcp_session_id: s } });
      expect(d.body.verdict).toBe('deny');
    }
    expect(await probe()).toMatchObject({ session_calls: 1, prior_denials: 0 });

    const before = await counts();
    const real = await call(a.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: { ...envelope(10), action: { server: 'hr', tool: 'read_salaries', arguments: {} }, correlation: { mcp_session_id: s } },
    });
    expect(real.status).toBe(403);
    await expectEventually(async () => (await counts()).audit === before.audit + 1);
    expect(await probe()).toMatchObject({ session_calls: 2, prior_denials: 1 });
  });

  it('/v1/policies and /v1/authorize/simulate without the admin scope are 403 insufficient_scope with WWW-Authenticate', async () => {
    const delegationsOnly = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/policies'],
      ['GET', '/v1/policies/1'],
      ['POST', '/v1/policies', { policies: STARTER_POLICIES, activate: true }],
      ['POST', '/v1/policies/2/activate', {}],
      ['POST', '/v1/authorize/simulate', envelope(10)],
    ];
    const before = await counts();
    for (const token of [gateway, delegationsOnly]) {
      for (const [method, path, body] of routes) {
        const res = await call(a.url, method, path, { token, body });
        expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 403, error: 'insufficient_scope' });
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="insufficient_scope"/);
      }
    }
    // Without any token at all: 401.
    const anonymous = await call(a.url, 'GET', '/v1/policies');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect(await counts()).toEqual(before);
    expect(await activeVersion()).toBe(4);
  });

  it("another tenant's admin cannot see, read or activate this tenant's versions, and its decisions keep its own policy", async () => {
    const globex = await adminToken('globex', 'countersign:admin', 'globex-idp');
    expect((await call(a.url, 'GET', '/v1/policies', { token: globex })).body).toEqual({ active_version: 0, versions: [] });
    expect((await call(a.url, 'GET', '/v1/policies/1', { token: globex })).status).toBe(404);
    const activate = await call(a.url, 'POST', '/v1/policies/1/activate', { token: globex });
    expect(activate.status).toBe(400);
    expect(activate.body.field).toBe('version');
    expect(await activeVersion()).toBe(4);

    // Its own numbering starts at 1 and does not touch acme's.
    const own = await call(a.url, 'POST', '/v1/policies', { token: globex, body: { policies: { freeze: FREEZE_PAYMENTS } } });
    expect(own.body).toMatchObject({ version: 1, active: false });
    expect((await call(a.url, 'GET', '/v1/policies/1', { token: admin })).body.policies).toEqual(FROZEN);
    const globexAgent = await agentToken({ human: 'gina', actors: ['g-agent'], tenant: 'globex' });
    const sim = await simulate({ ...envelope(10), agent: { token: globexAgent } }, globex);
    expect(sim.body.policy).toEqual({ id: 'globex/policy-set', version: 0 });
  });

  it('every publish and activation left a policy.published / policy.activated audit row with its version', async () => {
    const events = await policyEvents();
    const published = events.filter((e) => e.type === 'policy.published');
    const activated = events.filter((e) => e.type === 'policy.activated');
    expect(published.map((e) => e.data.version)).toEqual([1, 2, 3, 4]);
    expect(published[0]).toMatchObject({ actor: 'admin:idp', data: { description: 'freeze payments', policy_ids: Object.keys(FROZEN) } });
    expect(activated.map((e) => [e.data.previous, e.data.version])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
      [2, 1], // after the row was switched behind the service's back
      [1, 3],
      [3, 4],
    ]);
    for (const e of activated) expect(e.actor).toBe('admin:idp');
    // Nothing was recorded for the other tenant's failed activation against acme.
    const globexRows = await sql(env.db.url, `SELECT type, data FROM audit_events WHERE tenant_id = 'globex' AND type LIKE 'policy.%'`);
    expect(globexRows).toEqual([{ type: 'policy.published', data: expect.objectContaining({ version: 1 }) }]);
  });
});

async function expectEventually(fn: () => Promise<boolean>, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await sleep(20);
  }
}
