/**
 * The gateway's transparency for what policy allows, end to end: the SDK client (as an agent) →
 * the gateway → Countersign (real HTTP, Postgres, Redis) → real upstream MCP servers started here.
 * Plain tool names (and their collisions, refused), and what the upstream sends the agent during
 * a forwarded call (progress, elicitation, sampling, logging) and the methods besides tools
 * (resources, prompts, completion, logging/setLevel) pass through; a resources/read is evaluated
 * by Countersign like a tool call and fails closed.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import type { GatewayConfigInput } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { FILE_TOOLS, startUpstream, TestUpstream, UpstreamTool } from '../support/mcp-upstream';

const POLICIES = { 'allow-delegated': 'permit (principal, action == Action::"call_tool", resource) when { context.granted };' };

/** A search tool that answers with the name of the server that ran it. */
const searchOn = (server: string): UpstreamTool => ({
  tool: { name: 'search', description: 'Search', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
  run: () => ({ content: [{ type: 'text', text: `searched on ${server}` }] }),
});

describe('the gateway passes through what policy allows', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let agent: string;
  let gatewayCredential: string;
  const clients: Client[] = [];
  const gateways: RunningGateway[] = [];

  const config = (overrides: Partial<GatewayConfigInput>) =>
    parseGatewayConfig({
      listen: { host: '127.0.0.1', port: 0 },
      countersign: { url: api.url, token: gatewayCredential, issuer: api.config.PUBLIC_URL },
      log_level: 'silent',
      upstreams: [],
      ...overrides,
    });
  async function gatewayWith(overrides: Partial<GatewayConfigInput>): Promise<RunningGateway> {
    const gateway = await startGateway(config(overrides));
    gateways.push(gateway);
    return gateway;
  }
  async function connect(gateway: RunningGateway, capabilities: Record<string, unknown> = {}): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gatewayCredential = await tenantToken('acme', 'gateway-mcp');
    agent = await agentToken({ human: 'alice', actors: ['tp-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'tp-agent', tools: ['files/*', 'crm/*', 'kb/*', 'relay/*'] } });
    expect(granted.status).toBe(201);
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } });
    expect(published.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(gateways.map((g) => g.close()));
    await env.teardown();
  }, 90_000);

  describe('with tool_names "plain"', () => {
    let files: TestUpstream;
    let crm: TestUpstream;
    let kb: TestUpstream;
    const crmTools: UpstreamTool[] = [];
    beforeAll(async () => {
      [files, crm, kb] = await Promise.all([startUpstream('files', [...FILE_TOOLS]), startUpstream('crm', crmTools), startUpstream('kb', [searchOn('kb')])]);
    });
    afterAll(async () => {
      await Promise.all([files?.close(), crm?.close(), kb?.close()]);
    });

    it('lists and calls tools by the upstream\'s own names, each reaching its own server', async () => {
      const gateway = await gatewayWith({ tool_names: 'plain', upstreams: [{ name: 'files', url: files.url }, { name: 'kb', url: kb.url }] });
      const client = await connect(gateway);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['delete_file', 'read_file', 'search']);
      const searched = await client.callTool({ name: 'search', arguments: { q: 'x' } });
      expect(searched.content).toEqual([{ type: 'text', text: 'searched on kb' }]);
      await client.callTool({ name: 'read_file', arguments: { path: '/tmp/a' } });
      expect(files.callsOf('read_file')).toEqual([{ path: '/tmp/a' }]);
      await expect(client.callTool({ name: 'files__read_file', arguments: { path: '/tmp/a' } })).rejects.toThrow(/Unknown tool: files__read_file/);
    });

    it('refuses to start while two upstreams offer the same tool name', async () => {
      const other = await startUpstream('kb2', [searchOn('kb2')]);
      try {
        await expect(startGateway(config({ tool_names: 'plain', upstreams: [{ name: 'kb', url: kb.url }, { name: 'kb2', url: other.url }] }))).rejects.toThrow(
          /"search" is offered by kb and kb2: the gateway refuses to route this name/,
        );
      } finally {
        await other.close();
      }
    });

    it('refuses tools/list, and never routes the name, when an upstream starts offering a name another one has', async () => {
      const gateway = await gatewayWith({ tool_names: 'plain', upstreams: [{ name: 'kb', url: kb.url }, { name: 'crm', url: crm.url }] });
      const client = await connect(gateway);
      expect((await client.callTool({ name: 'search', arguments: {} })).content).toEqual([{ type: 'text', text: 'searched on kb' }]);
      crmTools.push(searchOn('crm'));
      await expect(client.listTools()).rejects.toThrow(/"search" is offered by kb and crm/);
      const before = kb.calls.length;
      await expect(client.callTool({ name: 'search', arguments: {} })).rejects.toThrow(/"search" is offered by kb and crm/);
      expect(kb.calls.length).toBe(before);
      expect(crm.calls).toEqual([]);
    });
  });
});
