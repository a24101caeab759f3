/**
 * Two gateway instances behind one Countersign, sharing their state in a real Redis
 * (`state.redis_url`): a call parked through one instance is resumed through the other, in a new
 * session, by the same agent only, and forwarded once; a task created through one is read and
 * cancelled through the other; an instance that restarts leaves its parked calls resumable; an
 * approval token is used once across instances.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, ListTasksResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { callHash } from '../../src/common/canonical-json';
import { APPROVAL_TOKEN_TYP, ApprovalTokenVerifier } from '../../src/gateway/approval-token.verifier';
import { GatewayConfigError, parseGatewayConfig } from '../../src/gateway/gateway-config';
import { RunningGateway, startGateway } from '../../src/gateway/gateway';
import { RedisParkedCalls } from '../../src/gateway/parked-calls';
import { META_KEY } from '../../src/gateway/tool-call-gate';
import { adminToken, call, tenantToken } from '../support/api';
import { freePort, REDIS_URL, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sleep } from '../support/callback-server';
import { TcpProxy } from '../support/tcp-proxy';
import { agentToken, gatewayToken, prepareTestKeys, TEST_AGENT_ISSUER } from '../support/keys';
import { PAYMENT_TOOLS, startUpstream, TestUpstream } from '../support/mcp-upstream';

const POLICIES = {
  'payments-need-bob': `@reason("payment_approval") @obligation("human_approval") @approvers("user:bob") @quorum("1") @binding_message("Transfer funds")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`,
};
const IBAN = 'DE89370400440532013000';

describe('gateway instances sharing parked calls and tasks in Redis', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let payments: TestUpstream;
  let gatewayCredential: string;
  let agent: string;
  let otherAgent: string;
  let redis: Redis;
  const prefix = `cstest-gw-${randomUUID().slice(0, 8)}`;
  const gateways: RunningGateway[] = [];
  const clients: Client[] = [];

  const startInstance = async (redisUrl = REDIS_URL) => {
    const keys = await prepareTestKeys();
    const gateway = await startGateway(
      parseGatewayConfig({
        listen: { host: '127.0.0.1', port: 0 },
        countersign: { url: api.url, token: gatewayCredential, issuer: api.config.PUBLIC_URL },
        agent_issuers: [{ issuer: TEST_AGENT_ISSUER, jwks_file: keys.gatewayJwksFile }],
        upstreams: [{ name: 'payments', url: payments.url }],
        approval: { wait_seconds: 1, progress_interval_seconds: 1 },
        state: { redis_url: redisUrl, key_prefix: prefix },
        log_level: 'silent',
      }),
    );
    gateways.push(gateway);
    return gateway;
  };
  const stopInstance = async (gateway: RunningGateway) => {
    gateways.splice(gateways.indexOf(gateway), 1);
    await gateway.close();
  };
  async function connect(gateway: RunningGateway, token = agent): Promise<Client> {
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.resource), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  const transfer = (client: Client, args: Record<string, unknown>) =>
    client.callTool({ name: 'payments__transfer_funds', arguments: args }) as Promise<CallToolResult>;
  const meta = (r: CallToolResult) => r._meta?.[META_KEY] as Record<string, any>;
  const approvalStatus = async (id: string) => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gatewayCredential })).body.status as string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    payments = await startUpstream('payments', PAYMENT_TOOLS);
    redis = new Redis(REDIS_URL);
    gatewayCredential = await tenantToken('acme', 'gateway-mcp');
    agent = await agentToken({ human: 'alice', actors: ['shared-agent'] });
    otherAgent = await agentToken({ human: 'alice', actors: ['other-agent'] });
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    for (const who of ['shared-agent', 'other-agent']) {
      const granted = await call(api.url, 'POST', '/v1/delegations', {
        token: delegations,
        body: { human: 'alice', agent: who, tools: ['payments/transfer_funds'] },
      });
      expect(granted.status).toBe(201);
    }
    const published = await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } });
    expect(published.status).toBe(201);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all(gateways.map((g) => g.close()));
    // This run's keys: none may be left behind.
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await payments?.close();
    await env.teardown();
  }, 90_000);

  it('a call parked through A, approved through the link, is resumed through B in a new session and forwarded exactly once with the approved arguments', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    const args = { amount: 120, currency: 'EUR', to: IBAN };
    const before = payments.callsOf('transfer_funds').length;
    const parked = await transfer(await connect(a), args);
    expect(meta(parked)).toMatchObject({ status: 'pending', approvers: ['user:bob'] });
    const id = meta(parked).auth_req_id;
    expect((parked.content[0] as { text: string }).text).not.toContain('in this session');

    // Another agent making the same call through B parks a request of its own: it cannot resume this one.
    const others = await transfer(await connect(b, otherAgent), args);
    expect(meta(others)).toMatchObject({ status: 'pending' });
    expect(meta(others).auth_req_id).not.toBe(id);

    expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'invoice checked' })).body.status).toBe('approved');
    // The other agent's retry through A still waits for its own approvers; nothing is sent for it.
    expect(meta(await transfer(await connect(a, otherAgent), args))).toMatchObject({ status: 'pending', auth_req_id: meta(others).auth_req_id });

    // The same agent retries through both instances at once (keys in another order): one upstream call, the same result for both.
    const [onB, onA] = await Promise.all([transfer(await connect(b), { to: IBAN, currency: 'EUR', amount: 120 }), transfer(await connect(a), args)]);
    const sent = { content: [{ type: 'text', text: `transferred 120 EUR to ${IBAN}` }] };
    expect(onB).toEqual(sent);
    expect(onA).toEqual(sent);
    expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    // Spent: the same call again is a new request, wherever it lands.
    const again = await transfer(await connect(b), args);
    expect(meta(again)).toMatchObject({ status: 'pending' });
    expect(meta(again).auth_req_id).not.toBe(id);
    expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    await Promise.all([stopInstance(a), stopInstance(b)]);
  }, 60_000);

  it('an instance that stops leaves its parked calls open; after a restart the same call resumes the same request', async () => {
    const a = await startInstance();
    const args = { amount: 77, currency: 'EUR', to: IBAN };
    const before = payments.callsOf('transfer_funds').length;
    const id = meta(await transfer(await connect(a), args)).auth_req_id;
    await stopInstance(a);
    expect(await approvalStatus(id)).toBe('pending');

    const restarted = await startInstance();
    expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' })).body.status).toBe('approved');
    expect(await transfer(await connect(restarted), args)).toEqual({ content: [{ type: 'text', text: `transferred 77 EUR to ${IBAN}` }] });
    expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
    await stopInstance(restarted);
  }, 60_000);

  it('the agent closing the session that holds a parked call still cancels its approval request', async () => {
    const a = await startInstance();
    const client = await connect(a);
    const id = meta(await transfer(client, { amount: 5, currency: 'EUR', to: IBAN })).auth_req_id;
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    let status = '';
    for (let i = 0; i < 50 && status !== 'cancelled'; i++) {
      status = await approvalStatus(id);
      if (status !== 'cancelled') await sleep(100);
    }
    expect(status).toBe('cancelled');
    await stopInstance(a);
  });

  describe('MCP tasks', () => {
    const startTask = async (client: Client, args: Record<string, unknown>) =>
      (
        await client.request(
          { method: 'tools/call', params: { name: 'payments__transfer_funds', arguments: args, task: { ttl: 120_000 } } },
          CreateTaskResultSchema,
        )
      ).task.taskId;
    const waiting = async (client: Client, taskId: string) => {
      for (let i = 0; i < 100; i++) {
        const task = await client.experimental.tasks.getTask(taskId);
        const id = /auth_req_id (\S+),/.exec(task.statusMessage ?? '')?.[1];
        if (id) return id;
        await sleep(50);
      }
      throw new Error('the task never reported its approval request');
    };

    it('a task created through A is read through B by the same agent (tasks/get, tasks/list, tasks/result) and never by another agent', async () => {
      const [a, b] = [await startInstance(), await startInstance()];
      const args = { amount: 640, currency: 'EUR', to: IBAN };
      const before = payments.callsOf('transfer_funds').length;
      const taskId = await startTask(await connect(a), args);
      const onB = await connect(b);
      const id = await waiting(onB, taskId);
      expect((await onB.experimental.tasks.getTask(taskId)).status).toBe('working');
      expect((await onB.request({ method: 'tasks/list', params: {} }, ListTasksResultSchema)).tasks.map((t) => t.taskId)).toContain(taskId);

      const intruder = await connect(b, otherAgent);
      await expect(intruder.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
      await expect(intruder.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/not found/i);
      await expect(intruder.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)).rejects.toThrow(/not found/i);

      expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'checked' })).body.status).toBe('approved');
      const result = await onB.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      expect(result.content).toEqual([{ type: 'text', text: `transferred 640 EUR to ${IBAN}` }]);
      expect((await onB.experimental.tasks.getTask(taskId)).status).toBe('completed');
      expect(payments.callsOf('transfer_funds').slice(before)).toEqual([args]);
      await Promise.all([stopInstance(a), stopInstance(b)]);
    }, 30_000);

    it('tasks/cancel through B stops the work on A and cancels the approval request', async () => {
      const [a, b] = [await startInstance(), await startInstance()];
      const taskId = await startTask(await connect(a), { amount: 642, currency: 'EUR', to: IBAN });
      const onB = await connect(b);
      const id = await waiting(onB, taskId);
      expect((await onB.experimental.tasks.cancelTask(taskId)).status).toBe('cancelled');
      let status = '';
      for (let i = 0; i < 50 && status !== 'cancelled'; i++) {
        status = await approvalStatus(id);
        if (status !== 'cancelled') await sleep(100);
      }
      expect(status).toBe('cancelled');
      await Promise.all([stopInstance(a), stopInstance(b)]);
    }, 30_000);
  });

  it('an approval token is accepted once across instances', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    const shared = new RedisParkedCalls(redis, prefix);
    const [one, two] = [0, 1].map(() => new ApprovalTokenVerifier('http://unused', 'https://cs.test', 'gw', keys, (jti, exp) => shared.useOnce(jti, exp)));
    const approved = { authReqId: 'areq_x', server: 'payments', tool: 'transfer_funds', arguments: { amount: 1 } };
    const token = await new SignJWT({ auth_req_id: approved.authReqId, call_hash: callHash(approved) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: APPROVAL_TOKEN_TYP })
      .setIssuer('https://cs.test')
      .setAudience('gw')
      .setJti(randomUUID())
      .setExpirationTime('2m')
      .sign(privateKey);
    await expect(one.verify(token, approved)).resolves.toBeUndefined();
    await expect(two.verify(token, approved)).rejects.toThrow('already used');
    expect(await redis.pttl(`${prefix}:jti:${JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti}`)).toBeGreaterThan(60_000);
  });

  it('fails a call closed while its Redis is gone (the upstream never sees it), and works again once Redis is back', async () => {
    const proxy = await TcpProxy.start('127.0.0.1', Number(new URL(REDIS_URL).port || 6379));
    try {
      const a = await startInstance(proxy.via(REDIS_URL));
      const client = await connect(a);
      const before = payments.callsOf('transfer_funds').length;
      await proxy.cut();
      await expect(transfer(client, { amount: 9, currency: 'EUR', to: IBAN })).rejects.toThrow(/its state store failed.*the call was not sent/);
      await proxy.restore();
      let parked: CallToolResult | undefined;
      for (let i = 0; i < 50 && !parked; i++)
        parked = await transfer(client, { amount: 9, currency: 'EUR', to: IBAN }).catch(() => sleep(100).then(() => undefined));
      expect(meta(parked!)).toMatchObject({ status: 'pending' });
      expect(payments.callsOf('transfer_funds').length).toBe(before);
      await stopInstance(a);
    } finally {
      await proxy.cut();
    }
  }, 30_000);

  it('does not start when its Redis cannot be reached, naming state.redis_url', async () => {
    const port = await freePort();
    const keys = await prepareTestKeys();
    const starting = startGateway(
      parseGatewayConfig({
        listen: { host: '127.0.0.1', port: 0 },
        countersign: { url: api.url, token: gatewayCredential },
        agent_issuers: [{ issuer: TEST_AGENT_ISSUER, jwks_file: keys.gatewayJwksFile }],
        upstreams: [{ name: 'payments', url: payments.url }],
        state: { redis_url: `redis://127.0.0.1:${port}` },
        log_level: 'silent',
      }),
    );
    await expect(starting).rejects.toBeInstanceOf(GatewayConfigError);
    await expect(starting).rejects.toThrow(/state\.redis_url: Redis cannot be reached \(ECONNREFUSED\)/);
  });
});
