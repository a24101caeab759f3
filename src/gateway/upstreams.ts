import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

/** The upstream failed or answered something that is not an MCP result. */
export class UpstreamFailure extends Error {}

const GATEWAY_INFO = { name: 'countersign-gateway', version: '0.1.0' };

/**
 * One MCP client session per upstream server (Streamable HTTP, or a stdio process it starts), shared by every agent session (the upstream sees
 * the gateway as its one client). Connected on first use; a failed session is dropped and the
 * next call connects again.
 */
export class Upstream {
  private client?: Promise<Client>;
  /** Called when the server says its tools changed (notifications/tools/list_changed). */
  onToolsChanged?: () => void;

  constructor(
    readonly name: string,
    private readonly where: { url?: string; command?: string; args?: string[]; env?: Record<string, string>; cwd?: string },
  ) {}

  async listTools(): Promise<Tool[]> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    await this.use(async (client) => {
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined);
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
    });
    return tools;
  }

  async callTool(tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<CallToolResult> {
    return this.use((client) => client.callTool({ name: tool, arguments: args }, undefined, { signal }) as Promise<CallToolResult>);
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
      // A transport failure leaves the session in an unknown state: start a new one next time.
      if (!isToolLevelError(e)) {
        this.client = undefined;
        void client.close().catch(() => undefined);
      }
      throw new UpstreamFailure(`upstream ${this.name} failed (${describe(e)})`);
    }
  }

  private async connect(): Promise<Client> {
    const client = new Client(GATEWAY_INFO, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.onToolsChanged?.());
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

/** An MCP error answer (JSON-RPC error) is the upstream's word, not a broken session. */
function isToolLevelError(e: unknown): boolean {
  return typeof (e as { code?: unknown }).code === 'number';
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  if (cause?.code) return cause.code;
  return e instanceof Error ? e.message : String(e);
}
