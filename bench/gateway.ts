/**
 * The MCP gateway's figures (issue 12, "Measured"): the latency it adds to an allowed tools/call,
 * beside the same call sent straight to the same upstream in the same run, and the time from an
 * approver's vote to the upstream receiving the approved call. Everything is real: the service
 * (child process, demo mode, the demo's tenant and delegation, and a two-rule policy set below),
 * the gateway (child process, `dist/src/gateway/main.js`, the demo's configuration), the demo's
 * sample upstream (in this process, so that the moment a call reaches it is on the bench's clock)
 * and the SDK client. Votes go through the approver-link API (POST /v1/approvals/:id/decisions).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { INTENT_META_KEY, REASON_META_KEY } from '../src/gateway/agent-statement';
import { META_KEY } from '../src/gateway/tool-call-gate';
import { demoAgentToken, demoGatewayConfig, prepareDemoTenant, TENANT } from '../src/demo/demo-tenant';
import { startSampleUpstream } from '../src/demo/sample-upstream';
import { benchRedisPrefix, dropDatabase, Figure, http, linkMinter, percentile, resetDatabase, round, Server, startServer, stop } from './support';

const DB = 'countersign_bench_gateway';
const SERVICE_PORT = 3905;
/** The gateway as the demo runs it (a call needing approval is held up to 30 s) … */
const GATEWAY_PORT = 3906;
/** … and one that holds nothing (approval.wait_seconds 0): the agent is told at once and retries. */
const RETRYING_GATEWAY_PORT = 3907;
const SEQUENTIAL = Number(process.env.BENCH_GATEWAY_CALLS ?? 300);
const CONCURRENT_CLIENTS = 4;
const APPROVALS = Number(process.env.BENCH_GATEWAY_APPROVALS ?? 30);

/**
 * Delegated calls are allowed, payments need one approver of the finance group. Not the starter
 * set: its velocity rule (rightly) asks a person once an agent makes ~100 calls a minute, which a
 * load of allowed calls is.
 */
const POLICIES = {
  'allow-delegated': 'permit (principal, action == Action::"call_tool", resource) when { context.granted && context.server != "payments" };',
  'payments-need-finance': `@reason("payment_approval") @obligation("human_approval") @approvers("group:finance") @quorum("1") @binding_message("Transfer funds")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`,
};

/** The demo's allowed call (step 1 of the scripted agent), with the agent's statement in _meta. */
const LOOKUP = {
  name: 'lookup_customer',
  arguments: { query: 'ACME GmbH' },
  _meta: { [REASON_META_KEY]: 'Find the bank details for invoice INV-42', [INTENT_META_KEY]: { category: 'read', text: 'look up the supplier ACME GmbH' } },
};
/** The demo's call needing approval (a payment ≥ 10,000), with a distinct amount per sample so each is its own request. */
const payment = (amount: number) => ({
  name: 'payments__transfer_funds',
  arguments: { amount, currency: 'EUR', to: { iban: 'DE89370400440532013000', name: 'ACME GmbH' }, memo: 'INV-42' },
  _meta: { [REASON_META_KEY]: 'Invoice INV-42 from ACME GmbH is due today', [INTENT_META_KEY]: { category: 'pay', text: 'pay supplier invoice INV-42' } },
});
/** Bob votes as a member of the finance group, whom the starter policy names as approvers (with the delegator). */
const APPROVER = 'bob';

const meta = (r: CallToolResult) => (r._meta?.[META_KEY] ?? {}) as { status?: string; auth_req_id?: string };

interface Latencies {
  samples: number[];
  seconds: number;
}
const stats = (l: Latencies) => ({
  p50: round(percentile(l.samples, 50)),
  p99: round(percentile(l.samples, 99)),
  rate: round(l.samples.length / l.seconds, 1),
});

async function timed(calls: number, one: () => Promise<unknown>): Promise<Latencies> {
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const s = performance.now();
    await one();
    samples.push(performance.now() - s);
    if (process.env.BENCH_DEBUG && i % 25 === 0) say(`call ${i}: ${round(samples[i])} ms`);
  }
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

/** `clients` connected clients each making `calls` sequential calls, all at once. */
async function concurrently(clients: Client[], calls: number, one: (c: Client) => Promise<unknown>): Promise<Latencies> {
  const t0 = performance.now();
  const all = await Promise.all(clients.map((c) => timed(calls, () => one(c))));
  return { samples: all.flatMap((l) => l.samples), seconds: (performance.now() - t0) / 1000 };
}

const say = (line: string) => process.stderr.write(`gateway bench: ${line}\n`);

export async function gatewayFigures(keysDir: string): Promise<Figure[]> {
  const figures: Figure[] = [];
  const databaseUrl = await resetDatabase(DB);
  const publicUrl = `http://127.0.0.1:${SERVICE_PORT}`;
  const env = { DEMO_MODE: 'true', KEYS_DIR: keysDir, DATABASE_URL: databaseUrl, REDIS_PREFIX: benchRedisPrefix('bench-gateway'), PUBLIC_URL: publicUrl };
  const received = new Map<number, number>();
  const upstream = await startSampleUpstream({
    onCall: (c) => {
      if (c.tool === 'transfer_funds') received.set(c.arguments.amount as number, performance.now());
    },
  });
  const servers: Server[] = [];
  const clients: Client[] = [];
  try {
    const service = await startServer(env, SERVICE_PORT);
    servers.push(service);
    const { gatewayToken, adminToken } = await prepareDemoTenant(service.url, env);
    const published = await http('POST', `${service.url}/v1/policies`, adminToken, {
      policies: POLICIES,
      activate: true,
      description: 'bench: allow delegated calls, payments need finance',
    });
    if (published.status !== 201) throw new Error(`publishing the bench policies: ${published.status} ${JSON.stringify(published.body)}`);
    const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-gateway-'));
    const startGatewayProcess = async (port: number, waitSeconds: number) => {
      const config = demoGatewayConfig({
        api: service.url,
        issuer: publicUrl,
        gatewayToken,
        adminToken,
        upstreamBase: upstream.url,
        listen: { host: '127.0.0.1', port },
      });
      const file = join(dir, `gateway-${port}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          ...config,
          approval: { wait_seconds: waitSeconds, progress_interval_seconds: 2 },
          metrics_token: METRICS_TOKEN,
          log_level: process.env.BENCH_DEBUG ? 'info' : 'warn',
        }),
      );
      const gateway = await startServer({ GATEWAY_CONFIG: file }, port, 'dist/src/gateway/main.js');
      servers.push(gateway);
      return gateway;
    };
    const gateway = await startGatewayProcess(GATEWAY_PORT, 30);
    const agentToken = await demoAgentToken(env);
    const connect = async (url: string, token?: string) => {
      const client = new Client({ name: 'bench-agent', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : undefined),
      );
      clients.push(client);
      return client;
    };
    const viaGateway = (c: Client) => c.callTool({ ...LOOKUP, name: `crm__${LOOKUP.name}` }) as Promise<CallToolResult>;
    const direct = (c: Client) => c.callTool(LOOKUP) as Promise<CallToolResult>;
    const gatewayClients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => connect(`${gateway.url}/mcp`, agentToken)));
    const directClients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => connect(`${upstream.url}/crm/mcp`)));
    say('connected; the first allowed call');
    // tools/list registers the upstreams' tools in Countersign's catalogue (as the demo's agent does first).
    await gatewayClients[0].listTools();
    for (let tries = 0; ; tries++) {
      const first = await viaGateway(gatewayClients[0]);
      if (!first.isError) break;
      if (tries > 50) throw new Error(`the allowed call was not allowed: ${JSON.stringify(first)}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // 1. An allowed call: sequential, in interleaved rounds (direct, gateway, …) so that the machine's noise falls on both.
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await viaGateway(gatewayClients[0]);
      const t2 = performance.now();
      await direct(directClients[0]);
      if (process.env.BENCH_DEBUG) say(`warm-up ${i}: gateway ${round(t2 - t)} ms, direct ${round(performance.now() - t2)} ms`);
    }
    const rounds = 3;
    const seqDirect: Latencies = { samples: [], seconds: 0 };
    const seqGateway: Latencies = { samples: [], seconds: 0 };
    say('sequential allowed calls');
    const metricsBefore = await gatewayMetrics(gateway);
    for (let r = 0; r < rounds; r++) {
      for (const [into, one, client] of [
        [seqDirect, direct, directClients[0]],
        [seqGateway, viaGateway, gatewayClients[0]],
      ] as const) {
        const l = await timed(SEQUENTIAL / rounds, () => one(client));
        into.samples.push(...l.samples);
        into.seconds += l.seconds;
      }
    }
    const metricsAfter = await gatewayMetrics(gateway);
    const authorizeMs = ((metricsAfter.authorizeSum - metricsBefore.authorizeSum) / (metricsAfter.authorizeCount - metricsBefore.authorizeCount)) * 1000;
    const upstreamMs = ((metricsAfter.upstreamSum - metricsBefore.upstreamSum) / (metricsAfter.upstreamCount - metricsBefore.upstreamCount)) * 1000;
    const gatewayMeanMs = seqGateway.samples.reduce((a, b) => a + b, 0) / seqGateway.samples.length;
    const d = stats(seqDirect);
    const g = stats(seqGateway);
    const seqNote = `${seqGateway.samples.length} sequential calls each way (crm__lookup_customer, the demo's allowed call), ${rounds} interleaved rounds`;
    figures.push(
      {
        name: 'gateway: allowed call p50, sequential',
        value: g.p50,
        unit: 'ms',
        baseline: { name: 'direct to the upstream p50', value: d.p50, unit: 'ms' },
        ratio: round(g.p50 / d.p50),
        note: `${seqNote}; added ${round(g.p50 - d.p50)} ms`,
      },
      {
        name: 'gateway: allowed call p99, sequential',
        value: g.p99,
        unit: 'ms',
        baseline: { name: 'direct to the upstream p99', value: d.p99, unit: 'ms' },
        ratio: round(g.p99 / d.p99),
        note: `added ${round(g.p99 - d.p99)} ms`,
      },
      {
        name: 'gateway: allowed calls/s, one client, sequential',
        value: g.rate,
        unit: 'calls/s',
        baseline: { name: 'direct to the upstream', value: d.rate, unit: 'calls/s' },
        ratio: round(g.rate / d.rate, 3),
      },
      {
        name: "gateway: POST /v1/authorize's share of an allowed call",
        value: round((authorizeMs / gatewayMeanMs) * 100, 1),
        unit: '%',
        note: `mean over the sequential calls, from the gateway's /metrics: authorize ${round(authorizeMs)} ms, upstream ${round(upstreamMs)} ms, whole call (client's view) ${round(gatewayMeanMs)} ms`,
      },
    );
    say('concurrent allowed calls');
    const perClient = Math.round(SEQUENTIAL / CONCURRENT_CLIENTS);
    const conDirect = stats(await concurrently(directClients, perClient, direct));
    const conGateway = stats(await concurrently(gatewayClients, perClient, viaGateway));
    const conNote = `${CONCURRENT_CLIENTS} clients (one MCP session each) × ${perClient} sequential calls, all at once`;
    figures.push(
      {
        name: `gateway: allowed call p50, ${CONCURRENT_CLIENTS} concurrent clients`,
        value: conGateway.p50,
        unit: 'ms',
        baseline: { name: 'direct p50', value: conDirect.p50, unit: 'ms' },
        ratio: round(conGateway.p50 / conDirect.p50),
        note: conNote,
      },
      {
        name: `gateway: allowed call p99, ${CONCURRENT_CLIENTS} concurrent clients`,
        value: conGateway.p99,
        unit: 'ms',
        baseline: { name: 'direct p99', value: conDirect.p99, unit: 'ms' },
        ratio: round(conGateway.p99 / conDirect.p99),
      },
      {
        name: `gateway: allowed calls/s, ${CONCURRENT_CLIENTS} concurrent clients`,
        value: conGateway.rate,
        unit: 'calls/s',
        baseline: { name: 'direct', value: conDirect.rate, unit: 'calls/s' },
        ratio: round(conGateway.rate / conDirect.rate, 3),
      },
    );

    // 2. From the approver's vote being answered to the upstream receiving the call.
    const mintLink = await linkMinter(join(keysDir, 'signing-keys.json'), publicUrl, TENANT);
    const vote = async (id: string) => {
      const res = await http('POST', `${service.url}/v1/approvals/${id}/decisions`, await mintLink(id, APPROVER, 'finance'), {
        decision: 'approve',
        reason: 'bench',
      });
      if (res.status !== 200 || res.body.status !== 'approved') throw new Error(`vote on ${id}: ${res.status} ${JSON.stringify(res.body)}`);
      return performance.now();
    };
    const receivedAt = async (amount: number) => {
      for (let i = 0; i < 200 && !received.has(amount); i++) await new Promise((r) => setTimeout(r, 5));
      const at = received.get(amount);
      if (at === undefined) throw new Error(`the approved payment of ${amount} never reached the upstream`);
      return at;
    };
    let amount = 10_000;
    const approvalFigures = (label: string, samples: number[], note: string) =>
      figures.push(
        { name: `gateway: approver's vote answered → upstream receives the call, p50, ${label}`, value: round(percentile(samples, 50)), unit: 'ms', note },
        { name: `gateway: approver's vote answered → upstream receives the call, p99, ${label}`, value: round(percentile(samples, 99)), unit: 'ms' },
      );

    // a. A plain client whose call is held while the approver votes (approval.wait_seconds 30, as the demo).
    say('approvals, call held');
    const held: number[] = [];
    const plain = await connect(`${gateway.url}/mcp`, agentToken);
    for (let i = 0; i < APPROVALS; i++) {
      const n = ++amount;
      let voted: Promise<number | Error> | undefined;
      const result = (await plain.callTool(payment(n), undefined, {
        onprogress: (p) => {
          const id = /auth_req_id (\S+),/.exec(String(p.message))?.[1];
          // Caught here and thrown below: a rejection left alone would end the process mid-call.
          if (id && !voted) voted = vote(id).catch((e: Error) => e);
        },
      })) as CallToolResult;
      const votedAt = await voted;
      if (votedAt instanceof Error) throw votedAt;
      if (result.isError || votedAt === undefined) throw new Error(`held call: ${JSON.stringify(result)}`);
      held.push((await receivedAt(n)) - votedAt);
    }
    approvalFigures(
      'call held',
      held,
      `${APPROVALS} approvals; a client without tasks, its call held by the gateway (long-polling Countersign) while bob votes through his link`,
    );

    // b. The retry path: the agent is told at once that the call awaits approval; bob votes; the agent retries the same call.
    say('approvals, retry path');
    const retrying = await startGatewayProcess(RETRYING_GATEWAY_PORT, 0);
    const retrier = await connect(`${retrying.url}/mcp`, agentToken);
    const afterVote: number[] = [];
    const afterRetry: number[] = [];
    for (let i = 0; i < APPROVALS; i++) {
      const n = ++amount;
      const first = (await retrier.callTool(payment(n))) as CallToolResult;
      const id = meta(first).auth_req_id;
      if (meta(first).status !== 'pending' || !id) throw new Error(`retry path, first call: ${JSON.stringify(first)}`);
      const votedAt = await vote(id);
      const retriedAt = performance.now();
      const result = (await retrier.callTool(payment(n))) as CallToolResult;
      if (result.isError) throw new Error(`retry path, retried call: ${JSON.stringify(result)}`);
      const at = await receivedAt(n);
      afterVote.push(at - votedAt);
      afterRetry.push(at - retriedAt);
    }
    approvalFigures(
      'retry path',
      afterVote,
      `${APPROVALS} approvals; gateway with approval.wait_seconds 0: the first call returns "awaits approval", the agent retries the same call as soon as the vote is answered; ` +
        `retry sent → upstream receives it p50 ${round(percentile(afterRetry, 50))} ms, p99 ${round(percentile(afterRetry, 99))} ms`,
    );

    // c. MCP tasks: the call becomes a task at once, the gateway waits in the background.
    say('approvals, MCP tasks');
    const tasked: number[] = [];
    const taskClient = await connect(`${gateway.url}/mcp`, agentToken);
    for (let i = 0; i < APPROVALS; i++) {
      const n = ++amount;
      const created = await taskClient.request({ method: 'tools/call', params: { ...payment(n), task: { ttl: 120_000 } } }, CreateTaskResultSchema);
      const taskId = created.task.taskId;
      let id: string | undefined;
      for (let tries = 0; !id; tries++) {
        if (tries > 400) throw new Error('the task never named its approval request');
        id = /auth_req_id (\S+),/.exec((await taskClient.experimental.tasks.getTask(taskId)).statusMessage ?? '')?.[1];
        if (!id) await new Promise((r) => setTimeout(r, 10));
      }
      const votedAt = await vote(id);
      const result = await taskClient.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
      if (result.isError) throw new Error(`task result: ${JSON.stringify(result)}`);
      tasked.push((await receivedAt(n)) - votedAt);
    }
    approvalFigures('MCP tasks', tasked, `${APPROVALS} approvals; tools/call as a task (the gateway holds it in the background, long-polling Countersign)`);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stop(...servers.reverse());
    await upstream.close();
    await dropDatabase(DB);
  }
  return figures;
}

const METRICS_TOKEN = 'bench-gateway-metrics-token';

async function gatewayMetrics(gateway: Server) {
  const text = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const read = (line: string) => {
    const value = new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1];
    if (value === undefined) throw new Error(`the gateway's /metrics has no ${line}`);
    return Number(value);
  };
  return {
    authorizeSum: read('countersign_gateway_authorize_seconds_sum'),
    authorizeCount: read('countersign_gateway_authorize_seconds_count'),
    upstreamSum: read('countersign_gateway_upstream_seconds_sum{server="crm"}'),
    upstreamCount: read('countersign_gateway_upstream_seconds_count{server="crm"}'),
  };
}
