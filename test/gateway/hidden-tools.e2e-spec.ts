/**
 * `hide_denied_tools`: an agent sees in tools/list only the tools Countersign could ever allow it
 * (POST /v1/authorize/tools), per agent and for a short while; with the option off it sees them
 * all. Hiding is a convenience: a hidden tool called anyway is decided, and denied, as before.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import type { GatewayConfigInput } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { META_KEY } from '../../src/gateway/tool-call-gate';
import { adminToken, call, tenantToken } from '../support/api';
import { freePort, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sleep } from '../support/callback-server';
import { until } from '../support/until';
import { agentToken, gatewayToken } from '../support/keys';
import { FILE_TOOLS, PAYMENT_TOOLS, startUpstream, TestUpstream } from '../support/mcp-upstream';

const ALL = ['files__delete_file', 'files__read_file', 'payments__refund', 'payments__transfer_funds'];

describe('tools/list leaves out the tools policy would always deny this agent (hide_denied_tools)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let files: TestUpstream;
  let payments: TestUpstream;
  let gatewayCredential: string;
  const gateways: RunningGateway[] = [];
  const clients: Client[] = [];

  const start = async (overrides: Partial<GatewayConfigInput> = {}) => {
    const gateway = await startGateway(
      parseGatewayConfig({
        listen: { host: '127.0.0.1', port: 0 },
        countersign: { url: api.url, token: gatewayCredential, issuer: api.config.PUBLIC_URL },
        upstreams: [
          { name: 'files', url: files.url },
          { name: 'payments', url: payments.url },
        ],
        log_level: 'silent',
        ...overrides,
      }),
    );
    gateways.push(gateway);
    return gateway;
  };
  const listed = async (gateway: RunningGateway, token: string) => {
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return { client, names: (await client.listTools()).tools.map((t) => t.name).sort() };
  };
  const grant = async (agent: string, tools: string[]) => {
    const res = await call(api.url, 'POST', '/v1/delegations', {
      token: await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' }),
      body: { human: 'alice', agent, tools },
    });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    [files, payments] = await Promise.all([startUpstream('files', FILE_TOOLS), startUpstream('payments', PAYMENT_TOOLS)]);
    gatewayCredential = await tenantToken('acme', 'gateway-mcp');
    const published = await call(api.url, 'POST', '/v1/policies', {
      token: await adminToken(),
      body: { policies: { 'allow-delegated': 'permit (principal, action == Action::"call_tool", resource) when { context.granted };' }, activate: true },
    });
    expect(published.status).toBe(201);
    await grant('reader-agent', ['files/read_file', 'payments/transfer_funds']);
    await grant('files-agent', ['files/*']);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([files?.close(), payments?.close()]);
    await env.teardown();
  }, 60_000);

  it('an agent whose delegation covers only some tools sees only those; another agent sees its own; with the option off, all', async () => {
    const hiding = await start({ hide_denied_tools: true });
    const reader = await agentToken({ human: 'alice', actors: ['reader-agent'] });
    expect((await listed(hiding, reader)).names).toEqual(['files__read_file', 'payments__transfer_funds']);
    expect((await listed(hiding, await agentToken({ human: 'alice', actors: ['files-agent'] }))).names).toEqual(['files__delete_file', 'files__read_file']);
    expect((await listed(hiding, await agentToken({ human: 'alice', actors: ['nobody-agent'] }))).names).toEqual([]);

    const showing = await start();
    expect((await listed(showing, reader)).names).toEqual(ALL);
  });

  it('a hidden tool called anyway is evaluated and denied as before; the upstream never sees it', async () => {
    const hiding = await start({ hide_denied_tools: true });
    const { client, names } = await listed(hiding, await agentToken({ human: 'alice', actors: ['reader-agent'] }));
    expect(names).not.toContain('files__delete_file');
    const result = (await client.callTool({ name: 'files__delete_file', arguments: { path: '/x' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect((result._meta?.[META_KEY] as { verdict: string; reasons: string[] }).reasons).toContain('not_delegated');
    expect(files.callsOf('delete_file')).toEqual([]);
    // A visible tool still works.
    expect(await client.callTool({ name: 'files__read_file', arguments: { path: '/ok' } })).toMatchObject({
      content: [{ type: 'text', text: 'contents of /ok' }],
    });
  });

  it('remembers the answer per agent for hide_denied_tools_cache_seconds: a new delegation shows once that has passed', async () => {
    const hiding = await start({ hide_denied_tools: true, hide_denied_tools_cache_seconds: 2 });
    const token = await agentToken({ human: 'alice', actors: ['growing-agent'] });
    await grant('growing-agent', ['files/read_file']);
    expect((await listed(hiding, token)).names).toEqual(['files__read_file']);
    await grant('growing-agent', ['payments/refund']);
    // Countersign already says refund is possible; the gateway still answers from its cache.
    const direct = await until(
      () =>
        call(api.url, 'POST', '/v1/authorize/tools', { token: gatewayCredential, body: { agent: { token }, tools: [{ server: 'payments', tool: 'refund' }] } }),
      (r) => r.body.tools?.[0]?.always_denied === false,
    );
    expect(direct.res.body.tools[0].always_denied).toBe(false);
    expect((await listed(hiding, token)).names).toEqual(['files__read_file']);
    await sleep(2100);
    expect((await listed(hiding, token)).names).toEqual(['files__read_file', 'payments__refund']);
  });

  it('lists every tool when Countersign cannot be asked (its calls still fail closed)', async () => {
    const down = await start({ hide_denied_tools: true, countersign: { url: `http://127.0.0.1:${await freePort()}`, token: gatewayCredential } });
    const { client, names } = await listed(down, await agentToken({ human: 'alice', actors: ['reader-agent'] }));
    expect(names).toEqual(ALL);
    await expect(client.callTool({ name: 'files__delete_file', arguments: { path: '/x' } })).rejects.toThrow(/the call was not sent/);
  });
});
