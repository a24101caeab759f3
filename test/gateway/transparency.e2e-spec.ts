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
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { LoggingMessageNotification, Progress } from '@modelcontextprotocol/sdk/types.js';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import type { GatewayConfigInput } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { FILE_TOOLS, startUpstream, TestUpstream, UpstreamTool } from '../support/mcp-upstream';
import { RelayUpstream, startRelayUpstream } from '../support/mcp-relay-upstream';

const POLICIES = {
  'allow-delegated':
    'permit (principal, action == Action::"call_tool", resource) when { context.granted && context.resource_id != "kb://notes/secret" && context.tool != "guarded_count" };',
  'guarded-count-needs-bob': `@reason("guarded") @obligation("human_approval") @approvers("user:bob") @quorum("1")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "guarded_count" };`,
  'secret-note-needs-bob': `@reason("secret_note") @obligation("human_approval") @approvers("user:bob") @quorum("1")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "resources.read" && context.resource_id == "kb://notes/secret" };`,
};

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
    const granted = await call(api.url, 'POST', '/v1/delegations', {
      token: delegations,
      body: { human: 'alice', agent: 'tp-agent', tools: ['files/*', 'crm/*', 'kb/*', 'relay/*'] },
    });
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

    it("lists and calls tools by the upstream's own names, each reaching its own server", async () => {
      const gateway = await gatewayWith({
        tool_names: 'plain',
        upstreams: [
          { name: 'files', url: files.url },
          { name: 'kb', url: kb.url },
        ],
      });
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
        await expect(
          startGateway(
            config({
              tool_names: 'plain',
              upstreams: [
                { name: 'kb', url: kb.url },
                { name: 'kb2', url: other.url },
              ],
            }),
          ),
        ).rejects.toThrow(/"search" is offered by kb and kb2: the gateway refuses to route this name/);
      } finally {
        await other.close();
      }
    });

    it('refuses tools/list, and never routes the name, when an upstream starts offering a name another one has', async () => {
      const gateway = await gatewayWith({
        tool_names: 'plain',
        upstreams: [
          { name: 'kb', url: kb.url },
          { name: 'crm', url: crm.url },
        ],
      });
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

  it('with tool_names "plain", refuses prompts/list and never routes a prompt name two upstreams offer', async () => {
    const [one, two] = await Promise.all([startRelayUpstream('one'), startRelayUpstream('two', { promptsOnly: true })]);
    try {
      const gateway = await gatewayWith({
        tool_names: 'plain',
        upstreams: [
          { name: 'relay', url: one.url },
          { name: 'kb', url: two.url },
        ],
      });
      const client = await connect(gateway);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('ask_name');
      await expect(client.listPrompts()).rejects.toThrow(/every prompt name must be offered by one upstream, but "greet" is offered by relay and kb/);
      await expect(client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } })).rejects.toThrow(/"greet" is offered by relay and kb/);
      expect([...one.received, ...two.received].filter((r) => r.method === 'prompts/get')).toEqual([]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  describe('what the upstream sends the agent during a forwarded call', () => {
    let relay: RelayUpstream;
    let gateway: RunningGateway;
    beforeAll(async () => {
      relay = await startRelayUpstream();
      gateway = await gatewayWith({ upstreams: [{ name: 'relay', url: relay.url }], approval: { wait_seconds: 20, progress_interval_seconds: 1 } });
    });
    afterAll(async () => {
      await relay?.close();
    });

    it("relays the upstream's elicitation to the agent and its answer back, declaring elicitation only for an agent that declared it", async () => {
      const asking = await connect(gateway, { elicitation: {} });
      // Another agent's session, which could answer too: it is never asked.
      const bystander = await connect(gateway, { elicitation: {} });
      bystander.setRequestHandler(ElicitRequestSchema, async () => {
        throw new Error('asked in the wrong session');
      });
      const asked: unknown[] = [];
      asking.setRequestHandler(ElicitRequestSchema, async (request) => {
        asked.push(request.params);
        return { action: 'accept', content: { name: 'Ada' } };
      });
      const answered = await asking.callTool({ name: 'relay__ask_name', arguments: {} });
      expect(answered.content).toEqual([{ type: 'text', text: 'hello Ada' }]);
      expect(asked).toEqual([expect.objectContaining({ message: 'Your name?', requestedSchema: expect.objectContaining({ required: ['name'] }) })]);
      expect(Object.keys(relay.declared.at(-1)!)).toEqual(['elicitation']);

      // An agent that cannot answer: the gateway does not claim it can.
      const silent = await connect(gateway);
      expect((await silent.callTool({ name: 'relay__ask_name', arguments: {} })).content).toEqual([{ type: 'text', text: 'no elicitation offered' }]);
      expect(relay.declared.at(-1)).toEqual({});
    });

    it("relays the upstream's roots/list request to the agent", async () => {
      const agentClient = await connect(gateway, { roots: { listChanged: false } });
      agentClient.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
      expect((await agentClient.callTool({ name: 'relay__list_roots', arguments: {} })).content).toEqual([{ type: 'text', text: 'file:///work/project' }]);
    });

    it("relays the upstream's sampling request to the agent's model", async () => {
      const agentClient = await connect(gateway, { sampling: {} });
      agentClient.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        expect(request.params.messages[0].content).toEqual({ type: 'text', text: 'Summarize: a long text' });
        return { model: 'agent-model', role: 'assistant', content: { type: 'text', text: 'short' } };
      });
      const result = await agentClient.callTool({ name: 'relay__summarize', arguments: { text: 'a long text' } });
      expect(result.content).toEqual([{ type: 'text', text: 'model agent-model said: short' }]);
    });

    it("relays the upstream's progress under the agent's progress token, and its log messages at the level the agent set", async () => {
      const agentClient = await connect(gateway);
      const progress: Progress[] = [];
      const logs: LoggingMessageNotification['params'][] = [];
      agentClient.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      await agentClient.setLoggingLevel('info');
      const result = await agentClient.callTool({ name: 'relay__count', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) });
      expect(result.content).toEqual([{ type: 'text', text: 'counted' }]);
      expect(progress).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })));
      expect(logs).toEqual([{ level: 'info', logger: 'relay', data: 'counted to three' }]);
    });

    it("after an approval, relays the upstream's progress after the gateway's own, so that progress only grows", async () => {
      const agentClient = await connect(gateway);
      const progress: Progress[] = [];
      let voted: Promise<unknown> | undefined;
      const result = await agentClient.callTool({ name: 'relay__guarded_count', arguments: {} }, undefined, {
        onprogress: (p) => {
          progress.push(p);
          const id = /auth_req_id (\S+),/.exec(String(p.message))?.[1];
          if (id && !voted) voted = voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
        },
      });
      expect(voted).toBeDefined();
      expect(result.content).toEqual([{ type: 'text', text: 'counted' }]);
      const waited = progress.filter((p) => String(p.message).startsWith('Awaiting approval')).length;
      expect(waited).toBeGreaterThanOrEqual(1);
      expect(progress.slice(waited)).toEqual([1, 2, 3].map((i) => ({ progress: waited + i, total: waited + 3, message: `step ${i}` })));
    });

    it('passes resources through: listings, a read (evaluated by Countersign first), a template read, a subscription', async () => {
      const agentClient = await connect(gateway);
      expect((await agentClient.listResources()).resources).toEqual([expect.objectContaining({ uri: 'kb://notes/welcome', name: 'welcome' })]);
      expect((await agentClient.listResourceTemplates()).resourceTemplates).toEqual([expect.objectContaining({ uriTemplate: 'kb://notes/{id}' })]);
      const read = await agentClient.readResource({ uri: 'kb://notes/welcome' });
      expect(read.contents).toEqual([{ uri: 'kb://notes/welcome', mimeType: 'text/plain', text: 'Welcome to the knowledge base' }]);
      expect((await agentClient.readResource({ uri: 'kb://notes/beta' })).contents).toEqual([
        { uri: 'kb://notes/beta', mimeType: 'text/plain', text: 'note beta' },
      ]);
      const updated = new Promise((resolve) => agentClient.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params)));
      await expect(agentClient.subscribeResource({ uri: 'kb://notes/welcome' })).resolves.toEqual({});
      expect(await updated).toEqual({ uri: 'kb://notes/welcome' });
      await expect(agentClient.unsubscribeResource({ uri: 'kb://notes/welcome' })).resolves.toEqual({});
      // Each read was decided by Countersign first, as the tool resources.read with the URI as the resource.
      const decisions = await sql(
        env.db.url,
        `SELECT data->'input'->'action'->>'tool' AS tool, data->'input'->'resource'->>'id' AS id, data->>'verdict' AS verdict FROM audit_events
          WHERE type = 'authz.decision' AND data->'input'->'action'->>'server' = 'relay' AND data->'input'->'action'->>'tool' = 'resources.read'`,
      );
      expect(decisions.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { tool: 'resources.read', id: 'kb://notes/beta', verdict: 'allow' },
        { tool: 'resources.read', id: 'kb://notes/welcome', verdict: 'allow' },
      ]);
    });

    it('reads nothing when Countersign denies the read: an MCP error with the reasons, and the upstream never sees it', async () => {
      const undelegated = await agentToken({ human: 'alice', actors: ['stranger-agent'] });
      const client = new Client({ name: 'stranger', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${undelegated}` } } }),
      );
      clients.push(client);
      const before = relay.received.length;
      await expect(client.readResource({ uri: 'kb://notes/secret' })).rejects.toThrow(
        /Countersign denied reading kb:\/\/notes\/secret \(reasons: [^)]*not_delegated.*It was not read/,
      );
      expect(relay.received.slice(before)).toEqual([]);
    });

    it('reads nothing when the read needs an approval (carried out for tools/call only), and withdraws the approval request', async () => {
      const agentClient = await connect(gateway);
      const before = relay.received.length;
      await expect(agentClient.readResource({ uri: 'kb://notes/secret' })).rejects.toThrow(
        /Reading kb:\/\/notes\/secret needs what the gateway carries out for tools\/call only \(human_approval\); it was not read/,
      );
      expect(relay.received.slice(before)).toEqual([]);
      const requests = await sql(env.db.url, `SELECT status FROM approval_requests WHERE tool_call->>'tool' = 'resources.read'`);
      expect(requests.map((r) => r.status)).toEqual(['cancelled']);
    });

    it('passes prompts through under namespaced names, and completion for prompts and resource templates', async () => {
      const agentClient = await connect(gateway);
      expect((await agentClient.listPrompts()).prompts).toEqual([
        expect.objectContaining({ name: 'relay__greet', arguments: [expect.objectContaining({ name: 'who', required: true })] }),
      ]);
      const prompt = await agentClient.getPrompt({ name: 'relay__greet', arguments: { who: 'Ada' } });
      expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Say hello to Ada' } }]);
      await expect(agentClient.getPrompt({ name: 'greet', arguments: { who: 'Ada' } })).rejects.toThrow(/Unknown prompt: greet/);
      const completed = await agentClient.complete({ ref: { type: 'ref/resource', uri: 'kb://notes/{id}' }, argument: { name: 'id', value: 'b' } });
      expect(completed.completion.values).toEqual(['beta']);
    });
  });
});
