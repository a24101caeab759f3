/**
 * One agent session's connections to the upstreams, and the relay of what an upstream sends its
 * client back to that agent: progress of a forwarded call, sampling/createMessage,
 * elicitation/create and roots/list requests (answered by the agent, the answer returned to the
 * upstream), log messages and resource notifications. Each agent session has its own upstream
 * sessions, so a server's request can only reach the agent whose session it was sent in, and the
 * gateway declares to each upstream only what that agent's client declared (sampling,
 * elicitation, roots) — nothing the agent could not answer.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import {
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ListRootsRequestSchema,
  ListRootsResultSchema,
  LoggingLevelSchema,
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { Upstream, UpstreamFailure, UpstreamLocation } from './upstreams';

type RequestId = string | number;

export class SessionUpstreams {
  private readonly connections = new Map<string, Upstream>();
  /** The agent's tools/call requests being forwarded, per upstream: a server's request during a call travels on that call's stream. */
  private readonly inFlight = new Map<string, RequestId[]>();
  private closed = false;
  /** The log level the agent set: messages below it are dropped here too, should an upstream ignore logging/setLevel. */
  private logLevel?: LoggingLevel;

  constructor(
    private readonly agent: Server,
    private readonly locations: Map<string, UpstreamLocation>,
    private readonly log: Logger,
  ) {}

  /** This session's connection to `server` (opened on first use, declaring the agent's capabilities). */
  connection(server: string): Upstream {
    // Nothing is sent for a session that has ended (a task still running when its agent left, say).
    if (this.closed) throw new UpstreamFailure(`the agent's session has ended; nothing is sent to ${server}`);
    let upstream = this.connections.get(server);
    if (!upstream) {
      const capabilities = relayedCapabilities(this.agent.getClientCapabilities());
      upstream = new Upstream(server, this.locations.get(server)!, { capabilities, install: (client) => this.install(server, client, capabilities) });
      this.connections.set(server, upstream);
    }
    return upstream;
  }

  /**
   * Forwards an evaluated call in this session. `relatedRequestId`: the agent's request the
   * upstream's messages belong with (none for a task, whose request has been answered);
   * `onprogress`: where the upstream's progress goes (none when the agent asked for none).
   */
  async callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; relatedRequestId?: RequestId; onprogress?: (progress: Progress) => void },
  ): Promise<CallToolResult> {
    const calls = this.inFlight.get(server) ?? [];
    this.inFlight.set(server, calls);
    if (options.relatedRequestId !== undefined) calls.push(options.relatedRequestId);
    try {
      return await this.connection(server).callTool(tool, args, {
        signal: options.signal,
        ...(options.onprogress ? { onprogress: options.onprogress, resetTimeoutOnProgress: true } : {}),
      });
    } finally {
      const at = options.relatedRequestId === undefined ? -1 : calls.lastIndexOf(options.relatedRequestId);
      if (at >= 0) calls.splice(at, 1);
    }
  }

  /** logging/setLevel: every upstream of this session that logs gets it (each is connected for it). */
  async setLogLevel(level: LoggingLevel, servers: string[]): Promise<void> {
    this.logLevel = level;
    const results = await Promise.allSettled(
      servers.map(async (server) => {
        const upstream = this.connection(server);
        if ((await upstream.capabilities()).logging) await upstream.request((c) => c.setLoggingLevel(level));
      }),
    );
    // An upstream that is down does not fail the agent's request: it has no log to send meanwhile.
    results.forEach((r, i) => r.status === 'rejected' && this.log.warn({ upstream: servers[i], err: String(r.reason) }, 'logging/setLevel not passed on'));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections.values()].map((u) => u.close()));
    this.connections.clear();
  }

  /** The agent's request this server's message belongs with: its latest call being forwarded there, if any. */
  private related(server: string): { relatedRequestId?: RequestId } {
    const calls = this.inFlight.get(server);
    return calls?.length ? { relatedRequestId: calls[calls.length - 1] } : {};
  }

  private install(server: string, client: Client, declared: ClientCapabilities): void {
    // Requests: each only when the agent declared it (the client refuses a handler for an undeclared capability).
    if (declared.sampling) {
      client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
        this.agent.request(
          { method: 'sampling/createMessage', params: request.params },
          request.params.tools ? CreateMessageResultWithToolsSchema : CreateMessageResultSchema,
          { ...this.related(server), signal: extra.signal },
        ),
      );
    }
    if (declared.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
        this.agent.request({ method: 'elicitation/create', params: request.params }, ElicitResultSchema, { ...this.related(server), signal: extra.signal }),
      );
    }
    if (declared.roots) {
      client.setRequestHandler(ListRootsRequestSchema, (request, extra) =>
        this.agent.request({ method: 'roots/list', params: request.params }, ListRootsResultSchema, { ...this.related(server), signal: extra.signal }),
      );
    }
    const relay = (method: string, related: boolean) => (notification: { params?: Record<string, unknown> }) =>
      this.agent
        .notification({ method, params: notification.params } as Parameters<Server['notification']>[0], related ? this.related(server) : undefined)
        .catch((e: unknown) => this.log.debug({ upstream: server, method, err: String(e) }, 'notification not relayed'));
    const relayLog = relay('notifications/message', true);
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
      this.logLevel && severity(n.params.level) < severity(this.logLevel) ? undefined : relayLog(n),
    );
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, relay('notifications/resources/updated', false));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, relay('notifications/resources/list_changed', false));
    client.setNotificationHandler(PromptListChangedNotificationSchema, relay('notifications/prompts/list_changed', false));
  }
}

const severity = (level: LoggingLevel) => LoggingLevelSchema.options.indexOf(level);

/** What the gateway declares to an upstream: of the agent's capabilities, those it relays (never tasks or experimental ones). */
function relayedCapabilities(agent: ClientCapabilities | undefined): ClientCapabilities {
  const { sampling, elicitation, roots } = agent ?? {};
  return { ...(sampling ? { sampling } : {}), ...(elicitation ? { elicitation } : {}), ...(roots ? { roots } : {}) };
}
