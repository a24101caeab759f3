/**
 * The intersection is built in: whatever policy set a tenant publishes, a call outside every hop's
 * delegation is denied with not_delegated, through /v1/authorize and simulate alike. The sets here
 * are deliberately permissive (permit-all, a typo'd forbid, a house set with no forbid at all), so
 * the only thing standing between the agent and the call is the engine's own check.
 */
import fc from 'fast-check';
import { Client } from 'pg';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const TOOL = 'action == Action::"call_tool"';
/** Permissive sets a tenant might really publish. None of them mentions `context.granted` in a way that denies. */
const PERMISSIVE_SETS: Record<string, Record<string, string>> = {
  'permit-all': { all: 'permit (principal, action, resource);' },
  "a typo'd forbid that never fires": {
    // A misspelt environment: valid Cedar (publish accepts it), but it never fires.
    'forbid-not-delegated': `@reason("not_delegated") forbid (principal, ${TOOL}, resource) when { !context.granted && context.environment == "prodution" };`,
    all: `@reason("house_allow") permit (principal, ${TOOL}, resource);`,
  },
  'a house set with no forbid at all': {
    reads: `@reason("house_read") permit (principal, ${TOOL}, resource) when { ["read", "search", "summarize"].contains(context.action_category) };`,
    changes: `@reason("house_change") permit (principal, ${TOOL}, resource) when { !["read", "search", "summarize", "pay"].contains(context.action_category) };`,
    payments: `@reason("house_payment") @obligation("human_approval") @approvers("delegator") permit (principal, ${TOOL}, resource) when { context.action_category == "pay" };`,
  },
};
const STATUS = { allow: 200, allow_with_obligations: 202, deny: 403 } as const;

describe('a permissive policy set never widens a delegation', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let admin: string;
  let gateway: string;
  let version = 0;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  async function publish(policies: Record<string, string>) {
    const res = await call(api.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate: true } });
    expect(res.status).toBe(201);
    version = res.body.version;
  }

  const envelope = (agent: string, server: string, tool: string, resource?: string) => ({
    agent: { token: agent },
    action: { server, tool, arguments: { amount: 5 } },
    ...(resource ? { resource: { id: resource, classification: 'internal' } } : {}),
    reason: 'needed for the task',
    correlation: { mcp_session_id: `s-${Math.random()}` },
  });

  describe('by example: alice → orchestrator → scheduler', () => {
    let solo: string;
    let chain: string;

    beforeAll(async () => {
      const grant = async (body: Record<string, unknown>) => {
        const res = await call(api.url, 'POST', '/v1/delegations', { token: admin, body });
        expect(res.status).toBe(201);
        return res.body.id as string;
      };
      await grant({ human: 'alice', agent: 'ix-solo', tools: ['calendar/read_calendar', 'payments/transfer_funds'], resources: ['cal-alice', 'acct-1'] });
      const parent = await grant({ human: 'alice', agent: 'ix-orchestrator', tools: ['calendar/*', 'orders/*'] });
      await grant({ human: 'alice', agent: 'ix-scheduler', tools: ['calendar/read_calendar'], resources: ['cal-alice'], parent_id: parent });
      solo = await agentToken({ human: 'alice', actors: ['ix-solo'] });
      chain = await agentToken({ human: 'alice', actors: ['ix-scheduler', 'ix-orchestrator'] });
    });

    const outside = () =>
      [
        ['a tool outside the delegation', envelope(solo, 'orders', 'delete_order', 'cal-alice')],
        ['a granted tool on a server the delegation does not name', envelope(solo, 'mail', 'read_calendar', 'cal-alice')],
        ['a granted tool on a resource outside the delegation', envelope(solo, 'calendar', 'read_calendar', 'cal-ceo')],
        ['a granted tool with no resource when the delegation names resources', envelope(solo, 'calendar', 'read_calendar')],
        ['a payment from an account outside the delegation (would otherwise go to approval)', envelope(solo, 'payments', 'transfer_funds', 'acct-2')],
        ["a tool the parent holds but the sub-agent's hop does not", envelope(chain, 'orders', 'read_order')],
        ["a tool within the sub-agent's tools' server but not granted to it", envelope(chain, 'calendar', 'delete_event', 'cal-alice')],
        ["a resource the parent's hop allows but the sub-agent's does not", envelope(chain, 'calendar', 'read_calendar', 'cal-bob')],
      ] as const;

    it.each(Object.keys(PERMISSIVE_SETS))('under "%s": every call outside a hop is denied as not_delegated, and simulate agrees', async (name) => {
      await publish(PERMISSIVE_SETS[name]);

      // The set really is permissive: what the delegation covers goes through.
      const inside = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope(chain, 'calendar', 'read_calendar', 'cal-alice') });
      expect(inside.body).toMatchObject({ verdict: 'allow', policy: { version } });

      for (const [what, body] of outside()) {
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body });
        expect({ what, status: res.status, verdict: res.body.verdict, version: res.body.policy?.version }).toEqual({
          what,
          status: 403,
          verdict: 'deny',
          version,
        });
        expect(res.body.reasons).toContain('not_delegated');
        expect(res.body.obligations).toEqual([]);
        expect(res.body.auth_req_id).toBeUndefined();

        const sim = await call(api.url, 'POST', '/v1/authorize/simulate', { token: admin, body });
        expect(sim.status).toBe(200);
        expect({ what, verdict: sim.body.verdict, granted: sim.body.facts.granted }).toEqual({ what, verdict: 'deny', granted: false });
        expect(sim.body.reasons).toContain('not_delegated');
      }
      // Nothing was parked on the strength of a permissive set.
      expect(await sql(env.db.url, `SELECT id FROM approval_requests`)).toEqual([]);
    });
  });

  describe('for random delegations and calls', () => {
    // A small alphabet, so that random delegations and calls meet often.
    const SERVERS = ['calendar', 'orders', 'payments'];
    const TOOLS = ['read_calendar', 'delete_event', 'read_order', 'delete_order', 'transfer_funds'];
    const RESOURCES = ['r-1', 'r-2', 'doc-1', 'doc-2'];
    const RUNS = Number(process.env.PROPERTY_RUNS ?? 25);

    const toolPattern = fc.oneof(
      fc.constant('*'),
      fc.constantFrom(...SERVERS).map((s) => `${s}/*`),
      fc.tuple(fc.constantFrom(...SERVERS), fc.constantFrom(...TOOLS)).map(([s, t]) => `${s}/${t}`),
    );
    const grant = fc.record({
      tools: fc.array(toolPattern, { minLength: 1, maxLength: 3 }),
      resources: fc.option(fc.array(fc.constantFrom('*', 'r-*', 'doc-*', ...RESOURCES), { minLength: 1, maxLength: 3 }), { nil: null }),
    });
    /** One to three hops (human → agent 0 → agent 1 → …), each hop one or two grants. */
    const chainOf = fc.array(fc.array(grant, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 3 });
    const callOf = fc.record({
      server: fc.constantFrom(...SERVERS, 'mail'),
      tool: fc.constantFrom(...TOOLS),
      resource: fc.option(fc.constantFrom(...RESOURCES, 'other'), { nil: undefined }),
    });

    // The test's own reading of a delegation, written apart from src/ so that it checks the engine
    // rather than repeating it.
    const toolOk = (p: string, server: string, tool: string) => p === '*' || p === `${server}/*` || p === `${server}/${tool}`;
    const resourceOk = (p: string, id?: string) => p === '*' || (id !== undefined && (p.endsWith('*') ? id.startsWith(p.slice(0, -1)) : p === id));
    type G = { tools: string[]; resources: string[] | null };
    const everyHopCovers = (hops: G[][], c: { server: string; tool: string; resource?: string }) =>
      hops.every((hop) =>
        hop.some((g) => g.tools.some((p) => toolOk(p, c.server, c.tool)) && (!g.resources || g.resources.some((p) => resourceOk(p, c.resource)))),
      );

    let db: Client;
    let n = 0;
    beforeAll(async () => {
      db = new Client({ connectionString: env.db.url });
      await db.connect();
    });
    afterAll(() => db.end());

    /**
     * Written straight to the table, so a hop may even be wider than its parent (a legacy or forged
     * row): the engine must hold the line at evaluation, not only when a delegation is granted.
     */
    async function grantChain(hops: G[][]): Promise<string> {
      const p = `px${++n}-`;
      const agents = hops.map((_, i) => `${p}agent-${i}`);
      let parent: string | null = null;
      for (const [i, hop] of hops.entries()) {
        let first: string | null = null;
        for (const [j, g] of hop.entries()) {
          const id = `dlg_${p}${i}-${j}`;
          await db.query(
            `INSERT INTO delegations (id, tenant_id, human_id, grantor_id, grantee_id, parent_id, tools, resources, created_by)
             VALUES ($1, 'acme', 'alice', $2, $3, $4, $5, $6, 'test')`,
            [id, i === 0 ? 'alice' : agents[i - 1], agents[i], parent, JSON.stringify(g.tools), g.resources ? JSON.stringify(g.resources) : null],
          );
          first ??= id;
        }
        parent = first;
      }
      // The token's act chain names the current (last) agent first.
      return agentToken({ human: 'alice', actors: [...agents].reverse() });
    }

    it.each(Object.keys(PERMISSIVE_SETS))('under "%s": a call is allowed or parked only when every hop covers it; otherwise not_delegated', async (name) => {
      await publish(PERMISSIVE_SETS[name]);
      let outsideSeen = 0;
      await fc.assert(
        fc.asyncProperty(chainOf, fc.array(callOf, { minLength: 1, maxLength: 4 }), async (hops, calls) => {
          const token = await grantChain(hops);
          for (const c of calls) {
            const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope(token, c.server, c.tool, c.resource) });
            expect(res.status).toBe(STATUS[res.body.verdict as keyof typeof STATUS]);
            expect(res.body.policy.version).toBe(version);
            if (!everyHopCovers(hops, c)) {
              outsideSeen++;
              expect({ hops, c, verdict: res.body.verdict }).toEqual({ hops, c, verdict: 'deny' });
              expect(res.body.reasons).toContain('not_delegated');
            } else if (name === 'permit-all') {
              // And the set is as permissive as it looks: a covered call goes through.
              expect({ hops, c, verdict: res.body.verdict }).toEqual({ hops, c, verdict: 'allow' });
            }
          }
        }),
        { numRuns: RUNS },
      );
      expect(outsideSeen).toBeGreaterThan(0);
    });
  });
});
