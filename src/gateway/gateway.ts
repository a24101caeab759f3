/**
 * The reference MCP gateway: agents connect over Streamable HTTP with their agent token as the
 * bearer; the gateway is an OAuth protected resource (RFC 9728 metadata, WWW-Authenticate on
 * 401), lists the union of its upstream servers' tools (`<server>__<tool>`, or plain names) and
 * puts every tools/call through Countersign (tool-call-gate.ts). What upstreams send back during a
 * call is relayed to the agent (session-upstreams.ts); resources, prompts and completion pass
 * through, resources/read evaluated first (pass-through.ts). It talks to Countersign over HTTP only.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import pino, { Logger } from 'pino';
import { canonicalJson } from '../common/canonical-json';
import { AgentAuthenticator } from './agent-authenticator';
import { ApprovalTokenVerifier } from './approval-token.verifier';
import { CountersignClient, credential } from './countersign-client';
import { GatewayConfig, gatewayIdOf } from './gateway-config';
import { GatewayMetrics, metricsAuthorized } from './gateway-metrics';
import { collisionMessage, NameTable, Naming, splitToolName } from './tool-names';
import { RESOURCE_READ_TOOL, ToolCallGate, ToolTarget } from './tool-call-gate';
import { PASS_THROUGH_CAPABILITIES, servePassThrough } from './pass-through';
import { SessionUpstreams } from './session-upstreams';
import { ToolVisibility } from './tool-visibility';
import { openGatewayState } from './gateway-state';
import { Upstream } from './upstreams';

export const MCP_PATH = '/mcp';
export const METADATA_PATH = '/.well-known/oauth-protected-resource';
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const GATEWAY_INFO = { name: 'countersign-gateway', version: '0.1.0' };

export interface RunningGateway {
  /** Base URL; agents connect to `${url}/mcp`. */
  url: string;
  /** The protected resource's identifier (RFC 9728 `resource`). */
  resource: string;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  agentKey: string;
  lastSeen: number;
}

export async function startGateway(config: GatewayConfig, options: { logger?: Logger } = {}): Promise<RunningGateway> {
  const log = options.logger ?? pino({ level: config.log_level, base: { service: 'countersign-gateway' }, timestamp: pino.stdTimeFunctions.isoTime });
  const countersignUrl = config.countersign.url.replace(/\/+$/, '');
  const token = config.countersign.token!;
  const countersign = new CountersignClient(
    countersignUrl,
    credential(token, config.countersign.token_file),
    config.countersign.timeout_ms,
    config.countersign.admin_token ? credential(config.countersign.admin_token, config.countersign.admin_token_file) : undefined,
  );
  const issuer = (config.countersign.issuer ?? countersignUrl).replace(/\/+$/, '');
  // Parked calls, used approval tokens and tasks: in this process, or shared in Redis (gateway-state.ts).
  const state = await openGatewayState(config);
  const approvalTokens = new ApprovalTokenVerifier(countersign.jwksUrl, issuer, config.countersign.gateway_id ?? gatewayIdOf(token)!, undefined, (jti, exp) =>
    state.parked.useOnce(jti, exp),
  );
  const upstreams = new Map(config.upstreams.map((u) => [u.name, new Upstream(u.name, u)]));
  const metrics = new GatewayMetrics();
  const gate = new ToolCallGate(config, countersign, approvalTokens, new Set(upstreams.keys()), log, metrics, state.parked);
  const locations = new Map(config.upstreams.map((u) => [u.name, u]));
  const catalogue = new ToolCatalogue(upstreams, config.tool_names, countersign, Boolean(config.countersign.admin_token), log);
  const visibility = new ToolVisibility(config, countersign, (name) => catalogue.targetOf(name), log);
  const sessions = new Map<string, Session>();
  /** Every agent session's upstream sessions still open (closed with the agent's session, or with the gateway). */
  const relays = new Set<SessionUpstreams>();
  const tasks = state.tasks;
  const authenticator = new AgentAuthenticator(config);

  const http = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.listen.port, config.listen.host, () => resolve());
  }).catch(async (e: unknown) => {
    await state.close();
    throw e;
  });
  const address = http.address() as AddressInfo;
  const base = (
    config.listen.public_url ?? `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${address.port}`
  ).replace(/\/+$/, '');
  const resource = `${base}${MCP_PATH}`;
  const metadataUrl = `${base}${METADATA_PATH}`;
  const metadata = {
    resource,
    authorization_servers: [issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'Countersign MCP gateway',
  };

  // DNS rebinding (MCP's transport security): a web page elsewhere can reach a gateway on this
  // machine under a name of its own; its requests then carry that name in Host and its site in Origin.
  const allowedHosts = new Set((config.listen.allowed_hosts ?? defaultHosts(base, config.listen.host)).map((h) => h.toLowerCase()));
  const allowedOrigins = new Set(config.listen.allowed_origins ?? [new URL(base).origin]);

  const newSession = (agentKey: string): StreamableHTTPServerTransport => {
    const server = new Server(GATEWAY_INFO, {
      capabilities: {
        tools: { listChanged: false },
        logging: {},
        ...PASS_THROUGH_CAPABILITIES,
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      taskStore: tasks.forAgent(agentKey),
    });
    // This agent's own sessions with the upstreams: what they send back during a call reaches this agent only.
    const relay = new SessionUpstreams(server, locations, log);
    relays.add(relay);
    server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      await relay.setLogLevel(request.params.level, [...upstreams.keys()]);
      return {};
    });
    servePassThrough(server, relay, { servers: [...upstreams.keys()], naming: config.tool_names, gate, log });
    server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => ({
      tools: await visibility.visible(await catalogue.list(), extra.authInfo!.token),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const auth = extra.authInfo!;
      const target = await catalogue.resolve(request.params.name);
      const args = request.params.arguments ?? {};
      // The agent's reason and intent: checked before anything else, so a bad one is an error at once (never a task).
      const statement = gate.statement(target, args, request.params._meta);
      const context = { agentToken: auth.token, agentKey: auth.clientId, sessionId: extra.sessionId, requestId: extra.requestId, statement };
      const taskStore = extra.taskStore;
      if (request.params.task && taskStore) {
        // A client that speaks MCP tasks gets a task at once; tasks/get shows the wait, tasks/result the outcome.
        const task = await taskStore.createTask({ ttl: extra.taskRequestedTtl ?? null, pollInterval: 1000 });
        const work = tasks.track(task.taskId);
        void gate
          .call(target, args, {
            ...context,
            signal: work.signal,
            holdSeconds: Number.POSITIVE_INFINITY,
            progressToken: task.taskId,
            sendProgress: (_progress, message) => taskStore.updateTaskStatus(task.taskId, 'working', message),
            // The task's request has been answered: the upstream's messages go on the agent's session stream, its progress into the task's status.
            forward: (server, tool, callArgs, signal) =>
              relay.callTool(server, tool, callArgs, {
                signal,
                onprogress: (p) => void (p.message ? taskStore.updateTaskStatus(task.taskId, 'working', p.message).catch(() => undefined) : undefined),
              }),
          })
          .then(
            (result) => taskStore.storeTaskResult(task.taskId, 'completed', result),
            (e: unknown) =>
              taskStore.storeTaskResult(task.taskId, 'failed', {
                isError: true,
                content: [{ type: 'text', text: e instanceof Error ? e.message : String(e) }],
              }),
          )
          .catch(() => undefined) // cancelled meanwhile: the store keeps the task as cancelled
          .finally(() => tasks.done(task.taskId));
        return { task };
      }
      const progressToken = request.params._meta?.progressToken;
      return gate.call(target, args, {
        ...context,
        progressToken,
        signal: extra.signal,
        sendProgress: (progress, message) =>
          extra.sendNotification({ method: 'notifications/progress', params: { progressToken: progressToken!, progress, message } }),
        // The upstream's progress goes to the agent under the agent's token, after what the gate reported (progress only increases).
        forward: (server, tool, callArgs, signal, sent) =>
          relay.callTool(server, tool, callArgs, {
            signal,
            relatedRequestId: extra.requestId,
            onprogress:
              progressToken === undefined
                ? undefined
                : (p) =>
                    void extra
                      .sendNotification({
                        method: 'notifications/progress',
                        params: { ...p, progressToken, progress: sent + p.progress, ...(p.total === undefined ? {} : { total: sent + p.total }) },
                      })
                      .catch(() => undefined),
          }),
      });
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, agentKey, lastSeen: Date.now() });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && sessions.delete(id)) void gate.sessionClosed(id);
      void relay.close().finally(() => relays.delete(relay));
    };
    void server.connect(transport);
    return transport;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    if (path === METADATA_PATH || path === `${METADATA_PATH}${MCP_PATH}`) {
      if (req.method !== 'GET') return plain(res, 405, { error: 'method_not_allowed' });
      return plain(res, 200, metadata);
    }
    if (path === '/metrics' && config.metrics_token) {
      if (!metricsAuthorized(req.headers.authorization, config.metrics_token)) return plain(res, 401, { error: 'unauthorized' });
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
      return;
    }
    if (path !== MCP_PATH) return plain(res, 404, { error: 'not_found' });
    const foreign = foreignRequest(req.headers.host, req.headers.origin, allowedHosts, allowedOrigins);
    if (foreign) return plain(res, 403, { jsonrpc: '2.0', error: { code: -32000, message: foreign }, id: null });

    const auth = await authenticator.authenticate(req.headers.authorization);
    if ('error' in auth) {
      const challenge =
        auth.error === 'missing'
          ? `Bearer resource_metadata="${metadataUrl}"`
          : `Bearer error="invalid_token", error_description="${auth.description}", resource_metadata="${metadataUrl}"`;
      res.setHeader('WWW-Authenticate', challenge);
      return plain(res, 401, { error: auth.error === 'missing' ? 'unauthorized' : 'invalid_token', error_description: auth.description });
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth.info;

    let body: unknown;
    if (req.method === 'POST') {
      const read = await readJson(req);
      if ('error' in read) return plain(res, read.status, { jsonrpc: '2.0', error: { code: -32700, message: read.error }, id: null });
      body = read.value;
    }
    const sessionId = req.headers['mcp-session-id'];
    let transport: StreamableHTTPServerTransport;
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (!session) return plain(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      // A session is the agent's that opened it: another token cannot use (or resume calls in) it.
      if (session.agentKey !== auth.info.clientId)
        return plain(res, 403, { jsonrpc: '2.0', error: { code: -32001, message: 'The session belongs to another agent' }, id: null });
      session.lastSeen = Date.now();
      transport = session.transport;
    } else if (req.method === 'POST' && isInitializeRequest(body)) {
      transport = newSession(auth.info.clientId);
    } else {
      return plain(res, 400, { jsonrpc: '2.0', error: { code: -32000, message: 'No session: send initialize first' }, id: null });
    }
    await transport.handleRequest(req, res, body);
  };

  http.on('request', (req, res) => {
    handle(req, res).catch((e) => {
      log.error({ err: String(e) }, 'request failed');
      if (!res.headersSent) plain(res, 500, { error: 'server_error' });
      else res.end();
    });
  });

  // Agents that vanish without closing their session: close it for them (and cancel what it parked).
  const idleMs = config.session_idle_seconds * 1000;
  const sweep = setInterval(
    () => {
      for (const s of sessions.values()) if (Date.now() - s.lastSeen > idleMs) void s.transport.close();
    },
    Math.min(60_000, Math.max(250, idleMs / 4)),
  );
  sweep.unref();

  // Registering tools at start-up is a convenience: an upstream that is not up yet is registered on the first tools/list.
  // With plain names the first listing is awaited: colliding names refuse the start (they are refused at tools/list later too).
  const firstList = catalogue.list();
  if (config.tool_names === 'plain') {
    try {
      await firstList;
    } catch (e) {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      throw e;
    }
  } else void firstList.catch(() => undefined);
  log.info({ url: resource, upstreams: config.upstreams.map((u) => u.name) }, 'gateway listening');

  return {
    url: base,
    resource,
    close: async () => {
      clearInterval(sweep);
      gate.stop();
      await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => undefined)));
      await Promise.all([...relays].map((r) => r.close()));
      await state.close();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * The union of the upstreams' tools, named as config.tool_names says, and the way back from an
 * agent's name to an upstream tool. Each server's tools are registered with Countersign's
 * catalogue (when an admin token is configured) whenever their list changes, so that policies
 * read typed input. An upstream that cannot be listed is left out of the answer. With plain names
 * a name two upstreams offer fails the listing and is never routed.
 */
class ToolCatalogue {
  private readonly registered = new Map<string, string>();
  private table?: NameTable;

  constructor(
    private readonly upstreams: Map<string, Upstream>,
    private readonly naming: Naming,
    private readonly countersign: CountersignClient,
    private readonly register: boolean,
    private readonly log: Logger,
  ) {
    for (const u of upstreams.values()) u.onToolsChanged = () => (this.table = undefined);
  }

  async list(): Promise<Tool[]> {
    const lists = await Promise.all(
      [...this.upstreams.values()].map(async (u) => {
        try {
          const tools = await u.listTools();
          await this.registerIfChanged(u.name, tools, Boolean((await u.capabilities()).resources));
          return { server: u.name, tools };
        } catch (e) {
          this.log.warn({ upstream: u.name, err: String(e) }, 'upstream tools/list failed; its tools are left out');
          return { server: u.name, tools: [] as Tool[] };
        }
      }),
    );
    const table = new NameTable(this.naming, new Map(lists.map((l) => [l.server, l.tools.map((t) => t.name)])));
    this.table = table;
    const collisions = table.collisions();
    if (collisions.length) {
      const message = collisionMessage('tool', collisions);
      this.log.error({ collisions }, message);
      throw new McpError(ErrorCode.InternalError, message);
    }
    // Any tool may be called as a task here: the wait for an approval is the gateway's, not the upstream's.
    return lists.flatMap((l) =>
      l.tools.map((t) => ({ ...t, name: table.exposed(l.server, t.name), execution: { ...t.execution, taskSupport: 'optional' as const } })),
    );
  }

  /** The upstream tool a listed name stands for, as of the last listing; undefined when unknown or colliding. */
  targetOf(name: string): ToolTarget | undefined {
    const found = this.naming === 'namespaced' ? splitToolName(name) : this.table?.resolve(name);
    return found && !('collision' in found) ? found : undefined;
  }

  /** The upstream tool an agent's name stands for; an unknown or colliding name is an error, never a guess. */
  async resolve(name: string): Promise<ToolTarget> {
    let found = this.naming === 'namespaced' ? splitToolName(name) : this.table?.resolve(name);
    if (this.naming === 'plain' && !found) {
      // Not seen yet (or the lists changed): list again; a collision found now refuses the call too.
      await this.list().catch(() => undefined);
      found = this.table?.resolve(name);
    }
    if (found && 'collision' in found) throw new McpError(ErrorCode.InvalidParams, collisionMessage('tool', [{ name, servers: found.collision }]));
    if (!found || !this.upstreams.has(found.server)) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    return found;
  }

  private async registerIfChanged(server: string, tools: Tool[], servesResources: boolean): Promise<void> {
    if (!this.register) return;
    const catalogued = tools.map((t) => ({
      name: t.name,
      ...(t.title ? { title: t.title } : {}),
      ...(t.description ? { description: t.description } : {}),
      inputSchema: t.inputSchema,
      ...(t.annotations ? { annotations: t.annotations } : {}),
    }));
    // A server's resources/read is evaluated as this tool (ToolCallGate.evaluateRead): catalogued, so policies read its uri.
    if (servesResources && !tools.some((t) => t.name === RESOURCE_READ_TOOL)) catalogued.push(RESOURCE_READ_ENTRY);
    const fingerprint = createHash('sha256').update(canonicalJson(catalogued)).digest('base64url');
    if (this.registered.get(server) === fingerprint) return;
    try {
      const res = await this.countersign.registerTools(server, catalogued);
      if (res.status === 200 || res.status === 201) {
        this.registered.set(server, fingerprint);
        this.log.info({ upstream: server, tools: tools.length }, 'tools registered in the catalogue');
      } else {
        this.log.warn({ upstream: server, status: res.status, body: res.body }, 'catalogue registration refused');
      }
    } catch (e) {
      this.log.warn({ upstream: server, err: String(e) }, 'catalogue registration failed');
    }
  }
}

const RESOURCE_READ_ENTRY = {
  name: RESOURCE_READ_TOOL,
  description: "Read one of this server's resources (MCP resources/read)",
  inputSchema: { type: 'object' as const, properties: { uri: { type: 'string' } }, required: ['uri'] },
  annotations: { readOnlyHint: true },
};

async function readJson(req: IncomingMessage): Promise<{ value: unknown } | { error: string; status: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { error: 'Request body too large', status: 413 };
    chunks.push(chunk as Buffer);
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { error: 'Parse error', status: 400 };
  }
}

/** The public URL's host, and on a loopback address the names a local client may use for it. */
function defaultHosts(base: string, listenHost: string): string[] {
  const { host, port } = new URL(base);
  const loopback = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(listenHost);
  const local = port ? ['localhost', '127.0.0.1', '[::1]'].map((name) => `${name}:${port}`) : ['localhost', '127.0.0.1', '[::1]'];
  return loopback ? [host, ...local] : [host];
}

/** Why a request is refused as coming through another name or site, or undefined. */
function foreignRequest(host: string | undefined, origin: string | undefined, hosts: Set<string>, origins: Set<string>): string | undefined {
  if (!host || !hosts.has(host.toLowerCase())) return `Host ${host ?? '(none)'} is not this gateway's`;
  if (origin !== undefined && !origins.has(origin)) return `Origin ${origin} may not call this gateway`;
  return undefined;
}

function plain(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}
