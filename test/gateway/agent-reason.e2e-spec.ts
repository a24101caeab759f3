/**
 * The agent's stated reason and intent through the MCP gateway, under the unmodified starter
 * policy set (a payment of 10,000 or more needs an approval, and that approval needs the agent's
 * reason: `reason_required`). The SDK client → the gateway → Countersign (real HTTP, Postgres,
 * Redis) → a real upstream MCP server recording every call. Without a reason the call is denied and
 * nobody is asked; with one in `_meta["io.countersign/reason"]` (or the tool's reason_argument) it
 * parks, and the approval request shows that reason.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { INTENT_META_KEY, REASON_META_KEY } from '../../src/gateway/agent-statement';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { META_KEY } from '../../src/gateway/tool-call-gate';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { eventually, sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { startUpstream, TestUpstream, UpstreamTool } from '../support/mcp-upstream';

const IBAN = 'DE89370400440532013000';
/** A payments server whose transfer has a memo: the gateway is configured to read it as the reason. */
const TOOLS: UpstreamTool[] = [
  {
    tool: {
      name: 'transfer_funds',
      description: 'Transfer money to an account',
      inputSchema: {
        type: 'object',
        properties: { amount: { type: 'number' }, currency: { type: 'string' }, to: { type: 'string' }, memo: { type: 'string' } },
        required: ['amount', 'to'],
      },
    },
    run: (args) => ({ content: [{ type: 'text', text: `transferred ${String(args.amount)} ${String(args.currency)} to ${String(args.to)}` }] }),
  },
];

describe("the agent's reason and intent through the MCP gateway, under the starter policy set", () => {
  let env: TestEnvironment;
  let api: TestApp;
  let payments: TestUpstream;
  let gateway: RunningGateway;
  let gatewayCredential: string;
  const clients: Client[] = [];

  const meta = (r: CallToolResult) => r._meta?.[META_KEY] as Record<string, any>;
  const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;
  const transfer = (amount: number, extra: Record<string, unknown> = {}) => ({ amount, currency: 'EUR', to: IBAN, ...extra });
  const approval = async (id: string) => {
    const res = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gatewayCredential });
    expect(res.status).toBe(200);
    return res.body;
  };
  const decisionsIn = async (client: Client) =>
    sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND mcp_session_id = $1 ORDER BY id`, [
      (client.transport as StreamableHTTPClientTransport).sessionId!,
    ]);

  async function connect(): Promise<Client> {
    const client = new Client({ name: 'reasoning-agent', version: '1.0.0' });
    const token = await agentToken({ human: 'alice', actors: ['reason-agent'] });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    payments = await startUpstream('payments', TOOLS);
    gatewayCredential = await tenantToken('acme', 'gateway-mcp');
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(api.url, 'POST', '/v1/delegations', {
      token: delegations,
      body: { human: 'alice', agent: 'reason-agent', tools: ['payments/transfer_funds'] },
    });
    expect(granted.status).toBe(201);
    // The starter set exactly as shipped (in force anyway until a tenant activates its own; published here to say so).
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: STARTER_POLICIES, activate: true } });
    expect(published.status).toBe(201);
    const config = parseGatewayConfig({
      listen: { host: '127.0.0.1', port: 0 },
      countersign: { url: api.url, token: gatewayCredential, issuer: api.config.PUBLIC_URL },
      upstreams: [
        { name: 'payments', url: payments.url, environment: 'production', tools: { transfer_funds: { intent_category: 'pay', reason_argument: 'memo' } } },
      ],
      // Answer "awaits approval" at once: the retry path resumes.
      approval: { wait_seconds: 0, progress_interval_seconds: 1 },
      log_level: 'silent',
    });
    config.countersign.admin_token = await adminToken();
    gateway = await startGateway(config);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gateway?.close();
    await payments?.close();
    await env.teardown();
  }, 90_000);

  it('a large payment without a reason is denied reason_required, nobody is asked, and the agent is told where to state one', async () => {
    const client = await connect();
    const before = payments.calls.length;
    const result = (await client.callTool({ name: 'payments__transfer_funds', arguments: transfer(25000) })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(meta(result)).toMatchObject({ verdict: 'deny', reasons: expect.arrayContaining(['reason_required']) });
    expect(text(result)).toContain(`_meta["${REASON_META_KEY}"] or in the "memo" argument`);
    expect(payments.calls.length).toBe(before);
    const decision = await eventually(async () => (await decisionsIn(client))[0]);
    expect(decision.data.verdict).toBe('deny');
    expect(decision.data.input.reason).toBeUndefined();
    expect(await sql(env.db.url, `SELECT id FROM approval_requests WHERE agent_id = 'reason-agent' AND tool_call->'arguments'->>'amount' = '25000'`)).toEqual(
      [],
    );
  });

  it('with a _meta reason it parks for approval; the approval request shows the reason and intent; approved, the retry reaches the upstream once without the _meta', async () => {
    const client = await connect();
    const args = transfer(25001);
    const statement = {
      [REASON_META_KEY]: 'Invoice INV-42 from ACME GmbH is due today',
      [INTENT_META_KEY]: { category: 'pay', text: 'pay supplier invoice INV-42' },
    };
    const parked = (await client.callTool({ name: 'payments__transfer_funds', arguments: args, _meta: statement })) as CallToolResult;
    expect(meta(parked)).toMatchObject({ status: 'pending', approvers: ['delegator', 'group:finance'] });
    const id = meta(parked).auth_req_id;
    const request = await approval(id);
    expect(request).toMatchObject({
      status: 'pending',
      reason: 'Invoice INV-42 from ACME GmbH is due today',
      intent: { category: 'pay', text: 'pay supplier invoice INV-42' },
      tool_call: { server: 'payments', tool: 'transfer_funds', arguments: args },
    });
    const decision = await eventually(async () => (await decisionsIn(client))[0]);
    expect(decision.data.input).toMatchObject({
      reason: 'Invoice INV-42 from ACME GmbH is due today',
      intent: { category: 'pay', text: 'pay supplier invoice INV-42' },
    });
    expect(payments.callsOf('transfer_funds')).not.toContainEqual(args);

    expect((await voteAs(api, { approvalId: id, approverId: 'alice', decision: 'approve', reason: 'INV-42 checked' })).body.status).toBe('approved');
    // The same call retried in the session resumes the request (the statement is not part of the call).
    const before = payments.calls.length;
    const retried = (await client.callTool({ name: 'payments__transfer_funds', arguments: args, _meta: statement })) as CallToolResult;
    expect(retried).toEqual({ content: [{ type: 'text', text: `transferred 25001 EUR to ${IBAN}` }] });
    const sent = payments.calls.slice(before);
    expect(sent.map((c) => c.arguments)).toEqual([args]);
    // The statement is for Countersign: the upstream sees neither key.
    expect(Object.keys(sent[0].meta ?? {})).not.toEqual(expect.arrayContaining([REASON_META_KEY]));
    expect(Object.keys(sent[0].meta ?? {})).not.toEqual(expect.arrayContaining([INTENT_META_KEY]));
  });

  it("without _meta, the tool's reason_argument (the memo) is the reason; a _meta reason wins over it", async () => {
    const client = await connect();
    const byMemo = (await client.callTool({
      name: 'payments__transfer_funds',
      arguments: transfer(25002, { memo: 'INV-43, approved budget line 7' }),
    })) as CallToolResult;
    expect(meta(byMemo)).toMatchObject({ status: 'pending' });
    expect((await approval(meta(byMemo).auth_req_id)).reason).toBe('INV-43, approved budget line 7');

    const both = (await client.callTool({
      name: 'payments__transfer_funds',
      arguments: transfer(25003, { memo: 'INV-44' }),
      _meta: { [REASON_META_KEY]: 'Quarterly rent, due on the 5th' },
    })) as CallToolResult;
    expect((await approval(meta(both).auth_req_id)).reason).toBe('Quarterly rent, due on the 5th');
    // A blank memo is no reason: denied as if none were given.
    const blank = (await client.callTool({ name: 'payments__transfer_funds', arguments: transfer(25004, { memo: '  ' }) })) as CallToolResult;
    expect(meta(blank)).toMatchObject({ verdict: 'deny', reasons: expect.arrayContaining(['reason_required']) });
  });

  it('over MCP tasks too: the task parks the call with the _meta reason', async () => {
    const client = await connect();
    const created = await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'payments__transfer_funds',
          arguments: transfer(25005),
          task: { ttl: 60_000 },
          _meta: { [REASON_META_KEY]: 'Payroll advance agreed with HR' },
        },
      },
      CreateTaskResultSchema,
    );
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      id = /auth_req_id (\S+),/.exec((await client.experimental.tasks.getTask(created.task.taskId)).statusMessage ?? '')?.[1];
      if (!id) await sleep(50);
    }
    expect(id).toBeDefined();
    expect((await approval(id!)).reason).toBe('Payroll advance agreed with HR');
    await client.experimental.tasks.cancelTask(created.task.taskId);
  });

  it("the agent's stated intent goes to Countersign over the configured one: a payment stated as a read is denied intent_mismatch", async () => {
    const client = await connect();
    const before = payments.calls.length;
    const result = (await client.callTool({
      name: 'payments__transfer_funds',
      arguments: transfer(50),
      _meta: { [REASON_META_KEY]: 'checking the balance', [INTENT_META_KEY]: { category: 'read' } },
    })) as CallToolResult;
    expect(meta(result)).toMatchObject({ verdict: 'deny', reasons: expect.arrayContaining(['intent_mismatch']) });
    expect(payments.calls.length).toBe(before);
    // With no stated intent, the configured intent_category is sent: the small payment is allowed.
    expect((await client.callTool({ name: 'payments__transfer_funds', arguments: transfer(51) })).isError).toBeFalsy();
    // The audit batcher records decisions as they are flushed, not always in the order they were made.
    const allowed = await eventually(async () => (await decisionsIn(client)).find((d) => d.data.verdict === 'allow'));
    expect(allowed.data.input.intent).toEqual({ category: 'pay' });
  });

  it.each([
    ['a reason of the wrong type', { [REASON_META_KEY]: 42 }, /_meta\["io\.countersign\/reason"\] must be a string, not number/],
    ['a reason too long', { [REASON_META_KEY]: 'x'.repeat(2001) }, /_meta\["io\.countersign\/reason"\] must be at most 2000 characters/],
    ['an intent of an unknown category', { [INTENT_META_KEY]: { category: 'steal' } }, /_meta\["io\.countersign\/intent"\]\.category/],
  ])('%s in _meta is an MCP error naming the key; Countersign is not asked and the upstream never sees the call', async (_what, bad, message) => {
    const client = await connect();
    const before = payments.calls.length;
    await expect(client.callTool({ name: 'payments__transfer_funds', arguments: transfer(25006), _meta: bad })).rejects.toThrow(message);
    // Over tasks too: an error at once, no task.
    await expect(
      client.request(
        { method: 'tools/call', params: { name: 'payments__transfer_funds', arguments: transfer(25006), task: { ttl: 60_000 }, _meta: bad } },
        CreateTaskResultSchema,
      ),
    ).rejects.toThrow(message);
    expect(await decisionsIn(client)).toEqual([]);
    expect(payments.calls.length).toBe(before);
  });
});
