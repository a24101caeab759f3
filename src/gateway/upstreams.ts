import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, ClientCapabilities, ServerCapabilities, Tool } from '@modelcontextprotocol/sdk/types.js';

/** The upstream failed or answered something that is not an MCP result. */
export class UpstreamFailure extends Error {}

const GATEWAY_INFO = { name: 'countersign-gateway', version: '0.1.0' };

/** Where an upstream server is: a Streamable HTTP URL, or a stdio process the gateway starts. */
export interface UpstreamLocation {
  url?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * What the gateway, as this upstream's client, declares and answers: the capabilities of the
 * agent it relays for, and the handlers that relay the server's requests and notifications to
 * that agent (session-upstreams.ts). None: a client that declares nothing (the catalogue's).
 */
export interface ClientSide {
  capabilities: ClientCapabilities;
  install(client: Client): void;
}

/**
 * One MCP client session with one upstream server (Streamable HTTP, or a stdio process it
 * starts). The catalogue holds one per upstream to list tools; each agent session gets its own
 * (session-upstreams.ts), so that what the server sends its client during a call reaches that
 * agent and no other. Connected on first use; a failed session is dropped and the next use
 * connects again.
 */
export class Upstream {
  private client?: Promise<Client>;
  /** Called when the server says its tools changed (notifications/tools/list_changed). */
  onToolsChanged?: () => void;

  constructor(
    readonly name: string,
    private readonly where: UpstreamLocation,
    private readonly clientSide?: ClientSide,
  ) {}

  async listTools(): Promise<Tool[]> {
    return this.use(async (client) => {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined);
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    });
  }

  async callTool(tool: string, args: Record<string, unknown>, options: RequestOptions = {}): Promise<CallToolResult> {
    return this.use((client) => client.callTool({ name: tool, arguments: args }, undefined, options) as Promise<CallToolResult>);
  }

  /** The server's capabilities (it is connected first). */
  async capabilities(): Promise<ServerCapabilities> {
    return this.use(async (client) => client.getServerCapabilities() ?? {});
  }

  /** Any other request, with the client at hand (pass-through methods: resources, prompts, completion, logging). */
  async request<T>(work: (client: Client) => Promise<T>): Promise<T> {
    return this.use(work);
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  private async use<T>(work: (client: Client) => Promise<T>): Promise<T> {
    let client: Client;
    try {
      client = await (this.client ??= this.connect());
    } catch (e) {
      this.client = undefined;
      throw new UpstreamFailure(`upstream ${this.name} is unreachable (${describe(e)})`);
    }
    try {
      return await work(client);
    } catch (e) {
      // An MCP error answer is the upstream's word: passed on as it is (code, message, data).
      if (isToolLevelError(e)) throw asSent(e as McpError);
      // A transport failure leaves the session in an unknown state: start a new one next time.
      this.client = undefined;
      void client.close().catch(() => undefined);
      throw new UpstreamFailure(`upstream ${this.name} failed (${describe(e)})`);
    }
  }

  private async connect(): Promise<Client> {
    const client = new Client(GATEWAY_INFO, { capabilities: this.clientSide?.capabilities ?? {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.onToolsChanged?.());
    this.clientSide?.install(client);
    const { url, command, args, env, cwd } = this.where;
    await client.connect(
      url
        ? new StreamableHTTPClientTransport(new URL(url))
        : // A stdio server gets the SDK's safe default environment plus its own, not the gateway's secrets.
          new StdioClientTransport({ command: command!, args, env: { ...getDefaultEnvironment(), ...env }, cwd, stderr: 'inherit' }),
    );
    return client;
  }
}

/** The upstream's error as it sent it: the SDK's client prefixes "MCP error <code>: ", which the agent's client adds again. */
function asSent(e: McpError): Error {
  const prefix = `MCP error ${e.code}: `;
  if (!e.message.startsWith(prefix)) return e;
  return Object.assign(new Error(e.message.slice(prefix.length)), { code: e.code, data: e.data });
}

/** An MCP error answer (JSON-RPC error) is the upstream's word, not a broken session (a closed connection is). */
export function isToolLevelError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' && code !== ErrorCode.ConnectionClosed;
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  if (cause?.code) return cause.code;
  return e instanceof Error ? e.message : String(e);
}
