/**
 * The MCP gateway end to end: the SDK client (as an agent) → the gateway → Countersign (real
 * HTTP, Postgres, Redis) and two real upstream MCP servers started here, each recording every
 * call it receives. Allowed calls pass unchanged, denied ones never reach the upstream, calls
 * needing approval wait (progress notifications), resume when retried, and reach the upstream
 * exactly once with exactly the approved arguments; Countersign down or malformed fails closed.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { exportJWK, generateKeyPair } from 'jose';
import { parseGatewayConfig } from '../../src/gateway/gateway-config';
import type { GatewayConfigInput } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { META_KEY } from '../../src/gateway/tool-call-gate';
import { adminToken, call, tenantToken } from '../support/api';
import { freePort, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sleep, sql } from '../support/callback-server';
import { agentToken, gatewayToken, prepareTestKeys, TEST_AGENT_ISSUER } from '../support/keys';
import { FILE_TOOLS, PAYMENT_TOOLS, startUpstream, TestUpstream } from '../support/mcp-upstream';

const POLICIES = {
  'allow-delegated': 'permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server != "payments" };',
  'payments-need-bob': `@reason("payment_approval") @obligation("human_approval") @approvers("user:bob") @quorum("1") @binding_message("Transfer funds")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`,
  'refunds-expire-fast': `@reason("refund_approval") @obligation("human_approval") @approvers("user:bob") @quorum("1") @expires_in("2")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "refund" };`,
};
const IBAN = 'DE89370400440532013000';
const METRICS_TOKEN = 'metrics-token-for-tests';

describe('the MCP gateway in front of Countersign and real MCP servers', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let files: TestUpstream;
  let payments: TestUpstream;
  let gateway: RunningGateway;
  let agent: string;
  let gatewayCredential: string;
  const clients: Client[] = [];

  const config = (overrides: Partial<GatewayConfigInput> = {}) =>
    parseGatewayConfig({
      listen: { host: '127.0.0.1', port: 0 },
      countersign: { url: api.url, token: gatewayCredential, admin_token: undefined, issuer: api.config.PUBLIC_URL },
      upstreams: [
        {
          name: 'files',
          url: files.url,
          environment: 'production',
          tools: { read_file: { resource: { id_argument: 'path', type: 'file', classification: 'internal' } } },
        },
        { name: 'payments', url: payments.url, tools: { transfer_funds: { intent_category: 'pay' } } },
      ],
      approval: { wait_seconds: 3, progress_interval_seconds: 1 },
      log_level: 'silent',
      ...overrides,
    });

  async function connect(url = gateway.resource, token = agent): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  const meta = (r: CallToolResult) => r._meta?.[META_KEY] as Record<string, any>;
  const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    [files, payments] = await Promise.all([startUpstream('files', FILE_TOOLS), startUpstream('payments', PAYMENT_TOOLS)]);
    gatewayCredential = await tenantToken('acme', 'gateway-mcp');
    agent = await agentToken({ human: 'alice', actors: ['gw-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    const granted = await call(api.url, 'POST', '/v1/delegations', {
      token: delegations,
      body: { human: 'alice', agent: 'gw-agent', tools: ['files/read_file', 'payments/transfer_funds', 'payments/refund', 'local/echo'] },
    });
    expect(granted.status).toBe(201);
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } });
    expect(published.status).toBe(201);
    const base = config({ metrics_token: METRICS_TOKEN });
    base.countersign.admin_token = await adminToken();
    gateway = await startGateway(base);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gateway?.close();
    await Promise.all([files?.close(), payments?.close()]);
    await env.teardown();
  }, 90_000);

  describe('as an OAuth protected resource', () => {
    it('answers 401 with WWW-Authenticate naming its RFC 9728 metadata when the bearer is missing, and serves that document', async () => {
      const res = await fetch(gateway.resource, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
      });
      expect(res.status).toBe(401);
      const metadataUrl = `${gateway.url}/.well-known/oauth-protected-resource`;
      expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);
      const metadata = await fetch(metadataUrl);
      expect(metadata.status).toBe(200);
      expect(await metadata.json()).toEqual({
        resource: gateway.resource,
        authorization_servers: [api.config.PUBLIC_URL],
        bearer_methods_supported: ['header'],
        resource_name: 'Countersign MCP gateway',
      });
    });

    it('refuses, before anything else, a request that names another host or comes from another site (DNS rebinding)', async () => {
      /** POSTs an initialize with the agent token and the given Host/Origin (fetch cannot set Host). */
      const initialize = (headers: Record<string, string>) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const url = new URL(gateway.resource);
          const req = httpRequest(
            {
              host: url.hostname,
              port: url.port,
              path: url.pathname,
              method: 'POST',
              headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
            },
            (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode!, body }));
            },
          );
          req.on('error', reject);
          req.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'initialize',
              params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
            }),
          );
        });
      const own = new URL(gateway.resource).host;
      const rebound = await initialize({ host: `attacker.example:${new URL(gateway.resource).port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body).toMatch(/Host attacker\.example:\d+ is not this gateway's/);
      const crossSite = await initialize({ host: own, origin: 'https://attacker.example' });
      expect(crossSite.status).toBe(403);
      expect(crossSite.body).toContain('Origin https://attacker.example may not call this gateway');
      // Its own name, as the loopback names a local client uses, with and without its own origin.
      for (const headers of [
        { host: own },
        { host: `localhost:${new URL(gateway.resource).port}` },
        { host: own, origin: new URL(gateway.resource).origin },
      ] as Record<string, string>[]) {
        expect((await initialize(headers)).status).toBe(200);
      }
    });

    it('refuses a token for another audience, a non-JWT and an expired token with invalid_token', async () => {
      const tokens = [
        await agentToken({ human: 'alice', actors: ['gw-agent'], audience: 'another-service' }),
        'not-a-jwt',
        await agentToken({ human: 'alice', actors: ['gw-agent'], expiresIn: '-1m' }),
      ];
      for (const token of tokens) {
        const res = await fetch(gateway.resource, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(
          /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"$/,
        );
      }
      await expect(connect(gateway.resource, tokens[0])).rejects.toThrow();
    });

    it('a forged agent token (right claims, wrong key) never gets a call forwarded: Countersign denies it; with agent_issuers the gateway refuses it at once', async () => {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const trusted = JSON.parse(readFileSync((await prepareTestKeys()).gatewayJwksFile, 'utf8')).keys[0];
      const forged = await agentToken({ human: 'alice', actors: ['gw-agent'] }, { ...(await exportJWK(privateKey)), alg: 'ES256', kid: trusted.kid });
      const client = await connect(gateway.resource, forged);
      const before = files.calls.length;
      const result = (await client.callTool({ name: 'files__read_file', arguments: { path: '/secret' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(meta(result).verdict).toBe('deny');
      expect(meta(result).reasons.join()).toMatch(/^agent_token_/);
      expect(files.calls.length).toBe(before);

      const strict = await startGateway(config({ agent_issuers: [{ issuer: TEST_AGENT_ISSUER, jwks_file: (await prepareTestKeys()).gatewayJwksFile }] }));
      try {
        const res = await fetch(strict.resource, {
          method: 'POST',
          headers: { authorization: `Bearer ${forged}`, 'content-type': 'application/json' },
          body: '{}',
        });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('error="invalid_token", error_description="the token signature is not valid"');
        const untrusted = await agentToken({ human: 'alice', actors: ['gw-agent'], issuer: 'https://elsewhere.example' });
        expect((await fetch(strict.resource, { method: 'POST', headers: { authorization: `Bearer ${untrusted}` } })).status).toBe(401);
        // The genuine token is accepted and works end to end.
        const genuine = await connect(strict.resource);
        expect((await genuine.callTool({ name: 'files__read_file', arguments: { path: '/ok' } })).isError).toBeUndefined();
      } finally {
        await strict.close();
      }
    });

    it("refuses another agent's token on an existing session", async () => {
      const mine = await connect();
      const sessionId = (mine.transport as StreamableHTTPClientTransport).sessionId!;
      const other = await agentToken({ human: 'mallory', actors: ['gw-agent'] });
      const res = await fetch(gateway.resource, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${other}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sessionId,
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
      });
      expect(res.status).toBe(403);
    });
  });

  it("lists the union of the upstreams' tools as <server>__<tool>, and registers their schemas in the catalogue", async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['files__delete_file', 'files__read_file', 'payments__refund', 'payments__transfer_funds']);
    expect(tools.find((t) => t.name === 'files__read_file')).toMatchObject({
      description: 'Read a file',
      inputSchema: FILE_TOOLS[0].tool.inputSchema,
      annotations: { readOnlyHint: true },
    });
    const catalogue = await call(api.url, 'GET', '/v1/catalogue', { token: await adminToken() });
    expect(catalogue.status).toBe(200);
    const servers = Object.fromEntries(
      catalogue.body.servers.map((s: { server: string; tools: { name: string }[] }) => [s.server, s.tools.map((t) => t.name).sort()]),
    );
    expect(servers).toEqual({ files: ['delete_file', 'read_file'], payments: ['refund', 'transfer_funds'] });
  });

  it("forwards an allowed call and returns the upstream's result unchanged", async () => {
    const client = await connect();
    const before = files.callsOf('read_file').length;
    const result = await client.callTool({ name: 'files__read_file', arguments: { path: '/reports/q3.txt' } });
    expect(result).toEqual({ content: [{ type: 'text', text: 'contents of /reports/q3.txt' }], structuredContent: { path: '/reports/q3.txt', size: 42 } });
    expect(files.callsOf('read_file').slice(before)).toEqual([{ path: '/reports/q3.txt' }]);
    // The resource hint went to Countersign: the decision's audit row names the file and the MCP session.
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const [row] = await sql<{ data: any; request_id: string }>(
      env.db.url,
      `SELECT data, request_id FROM audit_events WHERE type = 'authz.decision' AND mcp_session_id = $1`,
      [sessionId],
    );
    expect(row.data.verdict).toBe('allow');
    expect(row.data.input.action).toEqual({ server: 'files', tool: 'read_file', method: 'tools/call', arguments: { path: '/reports/q3.txt' } });
    expect(row.data.input.resource).toEqual({ id: '/reports/q3.txt', type: 'file', classification: 'internal' });
    expect(row.data.input.environment).toBe('production');
    expect(row.request_id).toMatch(/^\d+$/);
  });

  it('measures the latency the gateway adds to an allowed call, beside a direct call to the same upstream', async () => {
    const viaGateway = await connect();
    const direct = new Client({ name: 'direct', version: '1.0.0' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(files.url)));
    clients.push(direct);
    const time = async (fn: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 10; i++) await fn(); // warm-up
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        await fn();
        samples.push(performance.now() - t0);
      }
      samples.sort((a, b) => a - b);
      return { p50: samples[49].toFixed(2), p99: samples[98].toFixed(2) };
    };
    const args = { name: 'read_file', arguments: { path: '/bench.txt' } };
    const authorizeTime = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return { sum: read('countersign_gateway_authorize_seconds_sum'), count: read('countersign_gateway_authorize_seconds_count') };
    };
    const d = await time(() => direct.callTool(args));
    const before = await authorizeTime();
    const g = await time(() => viaGateway.callTool({ ...args, name: 'files__read_file' }));
    const after = await authorizeTime();
    const authorizeMean = (((after.sum - before.sum) / (after.count - before.count)) * 1000).toFixed(2);
    console.log(
      `allowed call, 100 sequential (ms): direct p50 ${d.p50} p99 ${d.p99}; through the gateway p50 ${g.p50} p99 ${g.p99}; ` +
        `of which POST /v1/authorize mean ${authorizeMean}`,
    );
    expect(Number(g.p50)).toBeGreaterThan(0);
  });

  it('returns a denied call as a tool error with the reason; the upstream never sees it', async () => {
    const client = await connect();
    const result = (await client.callTool({ name: 'files__delete_file', arguments: { path: '/reports/q3.txt' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('not_delegated');
    expect(text(result)).toContain('Do not retry it unchanged');
    expect(meta(result)).toMatchObject({ verdict: 'deny', reasons: expect.arrayContaining(['not_delegated']) });
    expect(files.callsOf('delete_file')).toEqual([]);
  });

  it('counts calls by outcome at /metrics, behind its bearer token', async () => {
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-of-same-size!' } })).status).toBe(401);
    const res = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const count = (outcome: string) => Number(new RegExp(`^countersign_gateway_tool_calls_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(count('allowed')).toBeGreaterThanOrEqual(1);
    expect(count('denied')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^countersign_gateway_authorize_seconds_count \d+$/m);
    expect(text).toMatch(/^countersign_gateway_upstream_seconds_count\{server="files"\} \d+$/m);
    // Without a metrics_token there is no /metrics.
    const plain = await startGateway(config());
    try {
      expect((await fetch(`${plain.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('an unknown tool is an MCP error and asks Countersign nothing', async () => {
    const client = await connect();
    await expect(client.callTool({ name: 'nowhere__read_file', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  describe('a call that needs approval (the retry path)', () => {
    it('waits with progress notifications, then says it awaits approval; approved through the link, the same call retried reaches the upstream once with exactly those arguments', async () => {
      const client = await connect();
      const args = { amount: 120, currency: 'EUR', to: IBAN };
      const progress: string[] = [];
      const t0 = Date.now();
      const first = (await client.callTool({ name: 'payments__transfer_funds', arguments: args }, undefined, {
        onprogress: (p) => progress.push(String(p.message)),
      })) as CallToolResult;
      const waited = Date.now() - t0;
      expect(first.isError).toBe(true);
      const pending = meta(first);
      expect(pending).toMatchObject({ status: 'pending', approvers: ['user:bob'] });
      expect(text(first)).toContain(pending.auth_req_id);
      expect(text(first)).toContain('user:bob');
      expect(text(first)).toMatch(/expires in \d+ s/);
      expect(waited).toBeGreaterThanOrEqual(2500);
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress[0]).toContain(pending.auth_req_id);
      expect(payments.callsOf('transfer_funds')).toEqual([]);

      const vote = await voteAs(api, { approvalId: pending.auth_req_id, approverId: 'bob', decision: 'approve', reason: 'invoice checked' });
      expect(vote.body.status).toBe('approved');

      // Arguments changed after approval are another call: they park a request of their own and do not resume this one.
      const tampered = (await client.callTool({ name: 'payments__transfer_funds', arguments: { ...args, amount: 99999 } })) as CallToolResult;
      expect(meta(tampered)).toMatchObject({ status: 'pending' });
      expect(meta(tampered).auth_req_id).not.toBe(pending.auth_req_id);
      expect(payments.callsOf('transfer_funds')).toEqual([]);

      // The same call (keys in another order: the same canonical arguments) resumes the approved request.
      const retried = (await client.callTool({ name: 'payments__transfer_funds', arguments: { to: IBAN, currency: 'EUR', amount: 120 } })) as CallToolResult;
      expect(retried).toEqual({ content: [{ type: 'text', text: `transferred 120 EUR to ${IBAN}` }] });
      expect(payments.callsOf('transfer_funds')).toEqual([args]);
      const redeemed = await call(api.url, 'GET', `/v1/approvals/${pending.auth_req_id}`, { token: gatewayCredential });
      expect(redeemed.body.status).toBe('approved');
      // Once forwarded, the approval is spent: the same call again is a new request.
      const again = (await client.callTool({ name: 'payments__transfer_funds', arguments: args })) as CallToolResult;
      expect(meta(again)).toMatchObject({ status: 'pending' });
      expect(meta(again).auth_req_id).not.toBe(pending.auth_req_id);
      expect(payments.callsOf('transfer_funds')).toEqual([args]);
    });

    it('an approval given while the call waits is forwarded in the same request', async () => {
      const client = await connect();
      const args = { amount: 75, currency: 'EUR', to: IBAN };
      const before = payments.callsOf('transfer_funds').length;
      let voted: Promise<unknown> | undefined;
      let votedAt: number | undefined;
      const result = (await client.callTool({ name: 'payments__transfer_funds', arguments: args }, undefined, {
        onprogress: (p) => {
          const id = /auth_req_id (\S+),/.exec(String(p.message))?.[1];
          if (id && !voted) voted = voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' }).then(() => (votedAt = Date.now()));
        },
      })) as CallToolResult;
      expect(voted).toBeDefined();
      const received = payments.calls.filter((c) => c.tool === 'transfer_funds').at(-1)!.at;
      console.log(`approver's vote answered → upstream received the call (ms): ${received - votedAt!}`);
      expect(result).toEqual({ content: [{ type: 'text', text: `transferred 75 EUR to ${IBAN}` }] });
      expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    });

    it('denied by the approver: the retry is a tool error with their reason and the upstream never sees the call', async () => {
      const client = await connect();
      const args = { amount: 5000, currency: 'EUR', to: IBAN };
      const before = payments.callsOf('transfer_funds').length;
      const first = (await client.callTool({ name: 'payments__transfer_funds', arguments: args })) as CallToolResult;
      const id = meta(first).auth_req_id;
      expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'deny', reason: 'not in the budget' })).body.status).toBe('denied');
      const retried = (await client.callTool({ name: 'payments__transfer_funds', arguments: args })) as CallToolResult;
      expect(retried.isError).toBe(true);
      expect(meta(retried)).toMatchObject({ status: 'denied', auth_req_id: id, denials: [{ approver: 'bob', reason: 'not in the budget' }] });
      expect(text(retried)).toContain('not in the budget');
      expect(payments.callsOf('transfer_funds').length).toBe(before);
    });

    it('an approval nobody answers expires: a tool error saying so, and the upstream never sees the call', async () => {
      const client = await connect();
      const result = (await client.callTool({ name: 'payments__refund', arguments: { payment: 'pay-1' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(meta(result)).toMatchObject({ status: 'expired' });
      expect(text(result)).toContain('expired');
      expect(payments.callsOf('refund')).toEqual([]);
    });

    it('an approval token the gateway cannot verify (another issuer) is not forwarded, even when approved', async () => {
      const strict = await startGateway(config({ countersign: { url: api.url, token: gatewayCredential, issuer: 'https://not-countersign.example' } }));
      try {
        const client = await connect(strict.resource);
        const args = { amount: 33, currency: 'EUR', to: IBAN };
        const before = payments.callsOf('transfer_funds').length;
        const id = meta((await client.callTool({ name: 'payments__transfer_funds', arguments: args })) as CallToolResult).auth_req_id;
        expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'fine' })).body.status).toBe('approved');
        const retried = (await client.callTool({ name: 'payments__transfer_funds', arguments: args })) as CallToolResult;
        expect(retried.isError).toBe(true);
        expect(meta(retried)).toMatchObject({ status: 'refused', auth_req_id: id });
        expect(text(retried)).toContain('the approval token is from another issuer');
        expect(text(retried)).not.toMatch(/ERR_J|check_failed|claim value/);
        expect(payments.callsOf('transfer_funds').length).toBe(before);
      } finally {
        await strict.close();
      }
    });

    it('a call the agent cancels while it waits cancels its approval request', async () => {
      const client = await connect();
      const controller = new AbortController();
      let id: string | undefined;
      const pending = client.callTool({ name: 'payments__transfer_funds', arguments: { amount: 1, currency: 'EUR', to: IBAN } }, undefined, {
        signal: controller.signal,
        onprogress: (p) => {
          id ??= /auth_req_id (\S+),/.exec(String(p.message))?.[1];
          controller.abort();
        },
      });
      await expect(pending).rejects.toThrow();
      expect(id).toBeDefined();
      let status: string | undefined;
      for (let i = 0; i < 50 && status !== 'cancelled'; i++) {
        status = (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gatewayCredential })).body.status;
        if (status !== 'cancelled') await sleep(100);
      }
      expect(status).toBe('cancelled');
    });
  });

  describe('a session that ends cancels the approval requests it parked', () => {
    const approvalStatus = async (id: string, want: string) => {
      let status: string | undefined;
      for (let i = 0; i < 50 && status !== want; i++) {
        status = (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gatewayCredential })).body.status;
        if (status !== want) await sleep(100);
      }
      return status;
    };

    it('closed by the agent (DELETE)', async () => {
      const client = await connect();
      const parked = (await client.callTool({ name: 'payments__transfer_funds', arguments: { amount: 11, currency: 'EUR', to: IBAN } })) as CallToolResult;
      const id = meta(parked).auth_req_id;
      expect(await approvalStatus(id, 'pending')).toBe('pending');
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      expect(await approvalStatus(id, 'cancelled')).toBe('cancelled');
    });

    it('left idle past session_idle_seconds: closed, and using it again is 404', async () => {
      const idle = await startGateway(config({ session_idle_seconds: 1, approval: { wait_seconds: 0, progress_interval_seconds: 1 } }));
      try {
        const client = await connect(idle.resource);
        const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
        const parked = (await client.callTool({ name: 'payments__transfer_funds', arguments: { amount: 12, currency: 'EUR', to: IBAN } })) as CallToolResult;
        const id = meta(parked).auth_req_id;
        expect(await approvalStatus(id, 'cancelled')).toBe('cancelled');
        const res = await fetch(idle.resource, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${agent}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': sessionId,
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
        });
        expect(res.status).toBe(404);
      } finally {
        await idle.close();
      }
    });
  });

  describe('a call that needs approval, over MCP tasks', () => {
    const startTask = async (client: Client, args: Record<string, unknown>) => {
      const created = await client.request(
        { method: 'tools/call', params: { name: 'payments__transfer_funds', arguments: args, task: { ttl: 120_000 } } },
        CreateTaskResultSchema,
      );
      expect(created.task.status).toBe('working');
      return created.task.taskId;
    };
    /** Polls tasks/get until its status message names the approval request; returns its auth_req_id and the message. */
    const waiting = async (client: Client, taskId: string) => {
      for (let i = 0; i < 100; i++) {
        const task = await client.experimental.tasks.getTask(taskId);
        const id = /auth_req_id (\S+),/.exec(task.statusMessage ?? '')?.[1];
        if (id) return { id, task };
        await sleep(50);
      }
      throw new Error('the task never reported its approval request');
    };

    it('gets a task at once; tasks/get reports the wait; once approved through the link, tasks/result is the upstream result, sent once with exactly those arguments', async () => {
      const client = await connect();
      const args = { amount: 640, currency: 'EUR', to: IBAN };
      const before = payments.callsOf('transfer_funds').length;
      const taskId = await startTask(client, args);
      const { id, task } = await waiting(client, taskId);
      expect(task.status).toBe('working');
      expect(task.statusMessage).toMatch(/^Awaiting approval by user:bob \(auth_req_id \S+, expires in \d+ s\): "Transfer funds"$/);
      // The task outlives the non-task wait limit (3 s) without becoming an error.
      await sleep(3500);
      expect((await client.experimental.tasks.getTask(taskId)).status).toBe('working');
      expect(payments.callsOf('transfer_funds').length).toBe(before);
      expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'checked' })).body.status).toBe('approved');
      const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: `transferred 640 EUR to ${IBAN}` }]);
      expect(result.isError).toBeFalsy();
      expect((await client.experimental.tasks.getTask(taskId)).status).toBe('completed');
      expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    }, 30_000);

    it('denied by the approver: tasks/result is a tool error with their reason; the upstream never sees the call', async () => {
      const client = await connect();
      const before = payments.callsOf('transfer_funds').length;
      const taskId = await startTask(client, { amount: 641, currency: 'EUR', to: IBAN });
      const { id } = await waiting(client, taskId);
      await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'deny', reason: 'wrong supplier' });
      const result = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result.isError).toBe(true);
      expect((result.content[0] as { text: string }).text).toContain('wrong supplier');
      expect(payments.callsOf('transfer_funds').length).toBe(before);
    });

    it('tasks/cancel cancels the approval request', async () => {
      const client = await connect();
      const taskId = await startTask(client, { amount: 642, currency: 'EUR', to: IBAN });
      const { id } = await waiting(client, taskId);
      expect((await client.experimental.tasks.cancelTask(taskId)).status).toBe('cancelled');
      let status: string | undefined;
      for (let i = 0; i < 50 && status !== 'cancelled'; i++) {
        status = (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gatewayCredential })).body.status;
        if (status !== 'cancelled') await sleep(100);
      }
      expect(status).toBe('cancelled');
    });
  });

  it('fronts a stdio upstream it starts itself, as it does a Streamable HTTP one', async () => {
    const callsFile = join(mkdtempSync(join(tmpdir(), 'gw-stdio-')), 'calls.jsonl');
    writeFileSync(callsFile, '');
    const cfg = config();
    cfg.upstreams.push({
      name: 'local',
      command: process.execPath,
      args: [join(__dirname, '..', 'support', 'stdio-upstream.js')],
      env: { CALLS_FILE: callsFile },
      tools: {},
    });
    // Registers its tools in the tenant's catalogue: a tenant with a catalogue denies any tool outside it.
    cfg.countersign.admin_token = await adminToken();
    const withStdio = await startGateway(cfg);
    try {
      const client = await connect(withStdio.resource);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('local__echo');
      const result = await client.callTool({ name: 'local__echo', arguments: { text: 'hi' } });
      expect(result).toEqual({ content: [{ type: 'text', text: 'echo {"text":"hi"}' }] });
      expect(
        readFileSync(callsFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([{ tool: 'echo', arguments: { text: 'hi' } }]);
    } finally {
      await withStdio.close();
    }
  });

  it('two gateway instances behind one Countersign: each resumes the calls it parked, once; the other parks its own', async () => {
    const second = await startGateway(config());
    try {
      const onA = await connect();
      const onB = await connect(second.resource);
      const args = { amount: 808, currency: 'EUR', to: IBAN };
      const before = payments.callsOf('transfer_funds').length;
      const [a, b] = (await Promise.all([
        onA.callTool({ name: 'payments__transfer_funds', arguments: args }),
        onB.callTool({ name: 'payments__transfer_funds', arguments: args }),
      ])) as CallToolResult[];
      const [idA, idB] = [meta(a).auth_req_id, meta(b).auth_req_id];
      expect(idA).not.toBe(idB);
      // Only A's request is approved: A's retry is forwarded once; B's call still waits for its own approvers.
      await voteAs(api, { approvalId: idA, approverId: 'bob', decision: 'approve', reason: 'A only' });
      const [ra, rb] = (await Promise.all([
        onA.callTool({ name: 'payments__transfer_funds', arguments: args }),
        onB.callTool({ name: 'payments__transfer_funds', arguments: args }),
      ])) as CallToolResult[];
      expect(ra.isError).toBeFalsy();
      expect(meta(rb)).toMatchObject({ status: 'pending', auth_req_id: idB });
      expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    } finally {
      await second.close();
    }
  });

  describe('fails closed', () => {
    it('when Countersign is unreachable: an MCP error, and the upstream never sees the call', async () => {
      const port = await freePort();
      const down = await startGateway(config({ countersign: { url: `http://127.0.0.1:${port}`, token: gatewayCredential } }));
      try {
        const client = await connect(down.resource);
        const before = files.calls.length;
        await expect(client.callTool({ name: 'files__read_file', arguments: { path: '/x' } })).rejects.toThrow(
          /Countersign is unreachable.*the call was not sent/,
        );
        expect(files.calls.length).toBe(before);
      } finally {
        await down.close();
      }
    });

    it('when Countersign answers something that is not a decision', async () => {
      const liar = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"verdict":"allow"}'));
      await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
      const down = await startGateway(config({ countersign: { url: `http://127.0.0.1:${(liar.address() as AddressInfo).port}`, token: gatewayCredential } }));
      try {
        const client = await connect(down.resource);
        const before = files.calls.length;
        await expect(client.callTool({ name: 'files__read_file', arguments: { path: '/x' } })).rejects.toThrow(/malformed.*the call was not sent/);
        expect(files.calls.length).toBe(before);
      } finally {
        await down.close();
        liar.closeAllConnections();
        await new Promise((resolve) => liar.close(resolve));
      }
    });

    it('when its own credential has expired; a token_file rotated in place is picked up without a restart', async () => {
      const tokenFile = join(mkdtempSync(join(tmpdir(), 'gw-token-')), 'gateway.token');
      writeFileSync(tokenFile, await gatewayToken({ tenant: 'acme', sub: 'gateway-mcp' }, { expiresIn: '-1m' }));
      const rotating = await startGateway(config({ countersign: { url: api.url, token_file: tokenFile, issuer: api.config.PUBLIC_URL } }));
      try {
        const client = await connect(rotating.resource);
        const before = files.calls.length;
        await expect(client.callTool({ name: 'files__read_file', arguments: { path: '/x' } })).rejects.toThrow(/invalid_token.*the call was not sent/);
        expect(files.calls.length).toBe(before);
        await sleep(1100);
        writeFileSync(tokenFile, gatewayCredential);
        await sleep(1100);
        expect(await client.callTool({ name: 'files__read_file', arguments: { path: '/x' } })).toMatchObject({
          content: [{ type: 'text', text: 'contents of /x' }],
        });
      } finally {
        await rotating.close();
      }
    });

    it('when the upstream is down: an MCP error naming the upstream', async () => {
      const port = await freePort();
      const cfg = config();
      cfg.upstreams[0].url = `http://127.0.0.1:${port}/mcp`;
      const broken = await startGateway(cfg);
      try {
        const client = await connect(broken.resource);
        await expect(client.callTool({ name: 'files__read_file', arguments: { path: '/x' } })).rejects.toThrow(/upstream files is unreachable/);
      } finally {
        await broken.close();
      }
    });
  });
});
