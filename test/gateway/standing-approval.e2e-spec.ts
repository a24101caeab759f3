/**
 * A standing approval through the MCP gateway (issue 15): an approver approves a parked payment
 * for "the rest of this session"; the agent's later payments in the same MCP session (same
 * currency and payee, any amount) reach the upstream without a new request, while another MCP
 * session still waits for approval.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { META_KEY } from '../../src/gateway/tool-call-gate';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { PAYMENT_TOOLS, startUpstream, TestUpstream } from '../support/mcp-upstream';

const POLICIES = {
  payments: `@reason("payment_approval") @obligation("human_approval") @approvers("user:bob") @standing("session") @standing_max_uses("5") @standing_pin("currency,to")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`,
};
const IBAN = 'DE89370400440532013000';

describe('a standing approval through the MCP gateway', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let payments: TestUpstream;
  let gateway: RunningGateway;
  let agent: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    payments = await startUpstream('payments', PAYMENT_TOOLS);
    agent = await agentToken({ human: 'alice', actors: ['gw-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    expect(
      (await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'gw-agent', tools: ['payments/*'] } })).status,
    ).toBe(201);
    expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } })).status).toBe(201);
    gateway = await startGateway(
      parseGatewayConfig({
        listen: { host: '127.0.0.1', port: 0 },
        countersign: { url: api.url, token: await tenantToken('acme', 'gateway-mcp'), issuer: api.config.PUBLIC_URL },
        upstreams: [{ name: 'payments', url: payments.url, tools: { transfer_funds: { intent_category: 'pay' } } }],
        approval: { wait_seconds: 1, progress_interval_seconds: 1 },
        log_level: 'silent',
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gateway?.close();
    await payments?.close();
    // The gateway's keep-alive sockets to the app would hold its close for the server's keep-alive timeout.
    api?.app.getHttpServer().closeAllConnections();
    await env.teardown();
  }, 90_000);

  async function connect(): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
    clients.push(client);
    return client;
  }
  const pay = (client: Client, amount: number) =>
    client.callTool({ name: 'payments__transfer_funds', arguments: { amount, currency: 'EUR', to: IBAN } }) as Promise<CallToolResult>;

  it('later payments of the session reach the upstream without a new request; another session waits', async () => {
    const client = await connect();
    const first = await pay(client, 120);
    const pending = first._meta?.[META_KEY] as { status: string; auth_req_id: string };
    expect(pending.status).toBe('pending');
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: pending.auth_req_id, approverId: 'bob' });
    const vote = await call(api.url, 'POST', `/v1/approvals/${pending.auth_req_id}/decisions`, {
      token,
      body: { decision: 'approve', reason: 'supplier run', standing: { scope: 'session' } },
    });
    expect(vote.body.standing_approval).toMatchObject({ scope: 'session', max_uses: 5 });
    // The approved call itself resumes with its approval token; the next ones stand on the standing approval.
    expect((await pay(client, 120)).content).toEqual([{ type: 'text', text: `transferred 120 EUR to ${IBAN}` }]);
    expect((await pay(client, 7)).content).toEqual([{ type: 'text', text: `transferred 7 EUR to ${IBAN}` }]);
    expect((await pay(client, 8)).content).toEqual([{ type: 'text', text: `transferred 8 EUR to ${IBAN}` }]);
    expect(payments.callsOf('transfer_funds').map((c) => (c as { amount: number }).amount)).toEqual([120, 7, 8]);
    const used = await call(api.url, 'GET', '/v1/standing-approvals', { token: await adminToken() });
    expect(used.body.standing_approvals).toEqual([expect.objectContaining({ approval_id: pending.auth_req_id, uses: 2 })]);

    const other = await connect();
    const elsewhere = await pay(other, 7);
    expect((elsewhere._meta?.[META_KEY] as { status: string }).status).toBe('pending');
    expect(payments.callsOf('transfer_funds')).toHaveLength(3);
  });
});
