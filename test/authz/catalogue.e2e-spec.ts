/**
 * The tool catalogue end to end over real HTTP, Postgres and Redis: registering an MCP server's
 * `tools/list`, policies on the typed input (`context.input`), arguments checked against the
 * inputSchema at decision time, a tool outside the catalogue denied (built in), publish-time validation against the tenant's schema, catalogue
 * changes refused when they would break the active set, and a change reaching a second instance.
 *
 * The tests run in order and build on each other's state.
 */
import { randomUUID } from 'node:crypto';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

/** A `tools/list` result as an MCP payments server returns it. */
const TRANSFER_FUNDS = {
  name: 'transfer_funds',
  title: 'Transfer funds',
  description: 'Send money from an account to an IBAN',
  inputSchema: {
    type: 'object',
    properties: {
      amount: { type: 'number', exclusiveMinimum: 0 },
      currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
      to: { type: 'object', properties: { iban: { type: 'string' }, name: { type: 'string' } }, required: ['iban'] },
      memo: { type: 'string', maxLength: 140 },
      tags: { type: 'array', items: { type: 'string' } },
    },
    required: ['amount', 'currency', 'to'],
  },
  annotations: { destructiveHint: true },
  outputSchema: { type: 'object' },
};
const GET_BALANCE = { name: 'get_balance', inputSchema: { type: 'object', properties: { account: { type: 'string' } } }, annotations: { readOnlyHint: true } };
const TOOLS_LIST = { tools: [TRANSFER_FUNDS, GET_BALANCE], nextCursor: undefined };

const PERMIT_GRANTED = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';
const BIG_EUR = `@reason("big_eur_transfer")
forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
when { context.input.amount.greaterThan(decimal("1000.00")) && context.input.currency == "EUR" };`;
const SANCTIONED_IBAN = `@reason("sanctioned_country")
forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
when { context.input.to.iban like "RU*" };`;

describe('tool catalogue: typed input for policies', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  let agent: string;

  const transfer = (args: Record<string, unknown>, app = a) =>
    call(app.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'payments-mcp', tool: 'transfer_funds', arguments: args },
        intent: { category: 'pay' },
        reason: 'Invoice INV-42',
        correlation: { mcp_session_id: `sess-${randomUUID()}` },
      },
    });
  const eur = (amount: number, extra: Record<string, unknown> = {}) => ({ amount, currency: 'EUR', to: { iban: 'DE89370400440532013000' }, ...extra });
  const putServer = (server: string, body: unknown, app = a) => call(app.url, 'PUT', `/v1/catalogue/servers/${server}`, { token: admin, body });
  const publish = (policies: Record<string, string>, activate = true) => call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate } });

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    agent = await agentToken({ human: 'alice', actors: ['pay-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(a.url, 'POST', '/v1/delegations', {
      token: delegations,
      body: { human: 'alice', agent: 'pay-agent', tools: ['payments-mcp/*'] },
    });
    expect(granted.status).toBe(201);
  });
  afterAll(() => env.teardown());

  it('before any catalogue a call is evaluated as today: its arguments are not checked', async () => {
    expect(await call(a.url, 'GET', '/v1/catalogue', { token: admin })).toMatchObject({ status: 200, body: { revision: 0, servers: [] } });
    // No usable amount: the starter set asks for approval.
    expect(await transfer({ amount: 'ten' })).toMatchObject({ status: 202, body: { verdict: 'allow_with_obligations' } });
  });

  it("PUT /v1/catalogue/servers/:server imports a server's tools/list result (201), shows the Cedar type of each input, and audits it", async () => {
    const res = await putServer('payments-mcp', TOOLS_LIST);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ server: 'payments-mcp', revision: 1 });
    const transferView = res.body.tools.find((t: { name: string }) => t.name === 'transfer_funds');
    expect(transferView).toMatchObject({
      action: 'payments-mcp/transfer_funds',
      title: 'Transfer funds',
      annotations: { destructiveHint: true },
      inputSchema: TRANSFER_FUNDS.inputSchema,
      unchecked: [],
      cedar_input: {
        type: 'Record',
        attributes: {
          amount: { type: 'Extension', name: 'decimal', required: true },
          currency: { type: 'String', required: true },
          to: { type: 'Record', required: true, attributes: { iban: { type: 'String', required: true }, name: { type: 'String', required: false } } },
          memo: { type: 'String', required: false },
          tags: { type: 'Set', element: { type: 'String' }, required: false },
        },
      },
    });
    expect(transferView).not.toHaveProperty('outputSchema');
    const one = await call(a.url, 'GET', '/v1/catalogue/servers/payments-mcp', { token: admin });
    expect(one.body.tools.map((t: { name: string }) => t.name)).toEqual(['get_balance', 'transfer_funds']);
    const all = await call(a.url, 'GET', '/v1/catalogue', { token: admin });
    expect(all.body).toMatchObject({ revision: 1, servers: [{ server: 'payments-mcp', tools: [{ name: 'get_balance' }, { name: 'transfer_funds' }] }] });
    const events = await sql(env.db.url, `SELECT type, actor, data FROM audit_events WHERE type LIKE 'catalogue.%' AND tenant_id = 'acme'`);
    expect(events).toEqual([
      { type: 'catalogue.server_registered', actor: 'admin:idp', data: { server: 'payments-mcp', tools: ['transfer_funds', 'get_balance'], revision: 1 } },
    ]);
  });

  it.each([
    ['an inputSchema that is not an object schema', 'payments-mcp', { tools: [{ name: 'x', inputSchema: { type: 'string' } }] }, 'tools.0.inputSchema.type'],
    ['a tool listed twice', 'payments-mcp', { tools: [GET_BALANCE, GET_BALANCE] }, 'tools'],
    ['a tool name with a space', 'payments-mcp', { tools: [{ ...GET_BALANCE, name: 'get balance' }] }, 'tools.0.name'],
    ['a server name with a slash', 'pay%2Fments', { tools: [GET_BALANCE] }, 'server'],
  ])('refuses %s with a 400 naming the field', async (_, server, body, field) => {
    const res = await putServer(server, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field });
  });

  it('the catalogue API needs the admin scope and is per tenant', async () => {
    expect((await call(a.url, 'GET', '/v1/catalogue', { token: gateway })).status).toBe(403);
    const globex = await adminToken('globex');
    expect((await call(a.url, 'GET', '/v1/catalogue', { token: globex })).body).toEqual({ revision: 0, servers: [] });
    expect((await call(a.url, 'GET', '/v1/catalogue/servers/payments-mcp', { token: globex })).status).toBe(404);
  });

  it.each([
    ['a missing required member', { amount: 10, to: { iban: 'DE89' } }, 'action.arguments.currency', 'is required'],
    ['a string amount', eur(10, { amount: '10' }), 'action.arguments.amount', 'must be a number, not string'],
    ['an amount decimal cannot hold', eur(0.12345), 'action.arguments.amount', 'must have at most 4 decimal places'],
    ['an amount out of decimal range', eur(1e300), 'action.arguments.amount', 'must have at most 4 decimal places'],
    ['a currency outside the enum', { ...eur(10), currency: 'JPY' }, 'action.arguments.currency', 'must be one of'],
    ['a nested member of the wrong type', eur(10, { to: { iban: 42 } }), 'action.arguments.to.iban', 'must be a string'],
    ['a set item of the wrong type', eur(10, { tags: ['ok', false] }), 'action.arguments.tags[1]', 'must be a string'],
  ])('a catalogued call with %s is a 400 naming the member, on every instance', async (_, args, field, message) => {
    for (const app of [a, b]) {
      const res = await transfer(args, app);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field });
      expect(res.body.error_description).toContain(message);
    }
  });

  it('the starter set keeps evaluating catalogued calls (its call_tool rules cover every tool)', async () => {
    const res = await transfer(eur(500));
    expect(res.body).toMatchObject({ verdict: 'allow', policy: { version: 0 }, reasons: ['payment_below_threshold'] });
  });

  it('publishing a policy on a member the input does not have is refused, naming the policy', async () => {
    const res = await publish({
      all: PERMIT_GRANTED,
      beneficiary: 'forbid (principal, action == Action::"payments-mcp/transfer_funds", resource) when { context.input.beneficiary == "x" };',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_policy');
    expect(res.body.errors[0]).toMatch(/^beneficiary: .*attribute `input.beneficiary` in context for Action::"payments-mcp\/transfer_funds" not found/);
  });

  it('> on a decimal is refused at publish: Cedar compares decimals with .greaterThan()', async () => {
    const res = await publish({
      all: PERMIT_GRANTED,
      gt: 'forbid (principal, action == Action::"payments-mcp/transfer_funds", resource) when { context.input.amount > decimal("1000.00") };',
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatch(/^gt: .*decimal/);
  });

  it('a policy on context.input.amount and context.input.currency decides on the call input', async () => {
    const res = await publish({ all: PERMIT_GRANTED, 'big-eur': BIG_EUR });
    expect(res.status).toBe(201);
    const cases: [Record<string, unknown>, string, string[]][] = [
      [eur(1500), 'deny', ['big_eur_transfer']],
      [eur(1000.01), 'deny', ['big_eur_transfer']],
      [eur(1000), 'allow', ['all']],
      [eur(999.99), 'allow', ['all']],
      [{ ...eur(1500), currency: 'USD' }, 'allow', ['all']],
      [{ ...eur(25000), currency: 'GBP' }, 'allow', ['all']],
    ];
    for (const [args, verdict, reasons] of cases) {
      const r = await transfer(args);
      expect({ args, verdict: r.body.verdict, reasons: r.body.reasons }).toEqual({ args, verdict, reasons });
    }
    // The audit keeps the arguments as sent.
    const denied = await transfer(eur(2000));
    const [row] = await sql(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [denied.body.decision_id]);
    expect(row.data.input.action.arguments).toEqual(eur(2000));
  });

  it('an uncatalogued tool of the same server is denied tool_not_in_catalogue, whatever the set permits (its arguments unchecked)', async () => {
    const res = await call(a.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'payments-mcp', tool: 'refund', arguments: { amount: 'anything' } },
        correlation: { mcp_session_id: `s-${randomUUID()}` },
      },
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ verdict: 'deny', reasons: ['tool_not_in_catalogue'] });
  });

  it('a catalogue change that would break the active set is refused with the validator message, and changes nothing', async () => {
    const revisionBefore = (await call(a.url, 'GET', '/v1/catalogue', { token: admin })).body.revision;
    const withoutCurrency = {
      ...TRANSFER_FUNDS,
      inputSchema: { ...TRANSFER_FUNDS.inputSchema, properties: { amount: { type: 'number' } }, required: ['amount'] },
    };
    const res = await putServer('payments-mcp', { tools: [withoutCurrency] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_policy', version: 1 });
    expect(res.body.errors.join('\n')).toMatch(/^big-eur: .*input.currency/m);
    const removed = await call(a.url, 'DELETE', '/v1/catalogue/servers/payments-mcp', { token: admin });
    expect(removed.status).toBe(400);
    expect(removed.body.errors.join('\n')).toMatch(/^big-eur: /m);
    const after = await call(a.url, 'GET', '/v1/catalogue', { token: admin });
    expect(after.body.revision).toBe(revisionBefore);
    expect((await transfer(eur(1500))).body.reasons).toEqual(['big_eur_transfer']);
  });

  it('a version published against an older catalogue is refused at activation if it no longer validates', async () => {
    const v2 = await publish({ all: PERMIT_GRANTED, sanctioned: SANCTIONED_IBAN }, false);
    expect(v2.status).toBe(201);
    // The recipient leaves the catalogue: the active set (v1) does not mind.
    const { to: _, ...properties } = TRANSFER_FUNDS.inputSchema.properties;
    const put = await putServer('payments-mcp', {
      tools: [{ ...TRANSFER_FUNDS, inputSchema: { type: 'object', properties, required: ['amount', 'currency'] } }, GET_BALANCE],
    });
    expect(put.status).toBe(200);
    const activate = await call(a.url, 'POST', `/v1/policies/${v2.body.version}/activate`, { token: admin });
    expect(activate.status).toBe(400);
    expect(activate.body).toMatchObject({ error: 'invalid_policy', field: 'version' });
    expect(activate.body.errors[0]).toMatch(/^sanctioned: .*input.to/);
    expect((await call(a.url, 'GET', '/v1/policies', { token: admin })).body.active_version).toBe(1);
  });

  it('a catalogue change reaches the second instance within a second', async () => {
    // Make currency free text: JPY, refused by the enum so far, becomes a valid call on both instances.
    const free = {
      ...TRANSFER_FUNDS,
      inputSchema: { ...TRANSFER_FUNDS.inputSchema, properties: { ...TRANSFER_FUNDS.inputSchema.properties, currency: { type: 'string' } } },
    };
    expect((await transfer({ ...eur(5), currency: 'JPY' }, b)).status).toBe(400);
    const t0 = Date.now();
    expect((await putServer('payments-mcp', { tools: [free, GET_BALANCE] })).status).toBe(200);
    let res = await transfer({ ...eur(5), currency: 'JPY' }, b);
    while (res.status !== 200 && Date.now() - t0 < 3000) {
      await sleep(5);
      res = await transfer({ ...eur(5), currency: 'JPY' }, b);
    }
    const elapsed = Date.now() - t0;
    console.log(`catalogue change propagation to instance B (ms): ${elapsed}`);
    expect(res.body).toMatchObject({ verdict: 'allow' });
    expect(elapsed).toBeLessThan(1000);
  });

  it('deleting the last server the active set does not name is 204: with no catalogued tool left, calls go back to being unchecked', async () => {
    await publish({ all: PERMIT_GRANTED });
    const res = await call(a.url, 'DELETE', '/v1/catalogue/servers/payments-mcp', { token: admin });
    expect(res.status).toBe(204);
    expect((await call(a.url, 'GET', '/v1/catalogue/servers/payments-mcp', { token: admin })).status).toBe(404);
    expect((await transfer({ amount: 'ten' })).body.verdict).toBe('allow');
    const types = (await sql(env.db.url, `SELECT type FROM audit_events WHERE type LIKE 'catalogue.%' ORDER BY id`)).map((r: { type: string }) => r.type);
    expect(types).toEqual(['catalogue.server_registered', 'catalogue.server_replaced', 'catalogue.server_replaced', 'catalogue.server_deleted']);
  });
});
