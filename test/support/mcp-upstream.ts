import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

export interface UpstreamTool {
  tool: Tool;
  run(args: Record<string, unknown>): CallToolResult;
}

export interface TestUpstream {
  url: string;
  /** Every tools/call the server received, in order, with its arguments exactly as they arrived. */
  calls: { tool: string; arguments: Record<string, unknown>; meta?: Record<string, unknown>; at: number }[];
  callsOf(tool: string): Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A real MCP server over Streamable HTTP (stateless: a server and transport per request, as the
 * SDK's stateless example does), with the given tools, recording every call it receives.
 */
export async function startUpstream(name: string, tools: UpstreamTool[]): Promise<TestUpstream> {
  const calls: TestUpstream['calls'] = [];
  const byName = new Map(tools.map((t) => [t.tool.name, t]));
  const http: HttpServer = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const server = new Server({ name, version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.map((t) => t.tool) }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const args = request.params.arguments ?? {};
      calls.push({
        tool: request.params.name,
        arguments: structuredClone(args),
        meta: request.params._meta && structuredClone(request.params._meta),
        at: Date.now(),
      });
      const tool = byName.get(request.params.name);
      if (!tool) return { isError: true, content: [{ type: 'text', text: `no tool ${request.params.name}` }] };
      return tool.run(args);
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    callsOf: (tool) => calls.filter((c) => c.tool === tool).map((c) => c.arguments),
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

const objectSchema = (properties: Record<string, object>, required: string[]): Tool['inputSchema'] => ({ type: 'object', properties, required });

/** A files server: read_file and delete_file. */
export const FILE_TOOLS: UpstreamTool[] = [
  {
    tool: {
      name: 'read_file',
      description: 'Read a file',
      inputSchema: objectSchema({ path: { type: 'string' } }, ['path']),
      annotations: { readOnlyHint: true },
    },
    run: (args) => ({ content: [{ type: 'text', text: `contents of ${String(args.path)}` }], structuredContent: { path: args.path, size: 42 } }),
  },
  {
    tool: {
      name: 'delete_file',
      description: 'Delete a file',
      inputSchema: objectSchema({ path: { type: 'string' } }, ['path']),
      annotations: { destructiveHint: true },
    },
    run: (args) => ({ content: [{ type: 'text', text: `deleted ${String(args.path)}` }] }),
  },
];

/** A payments server: transfer_funds. */
export const PAYMENT_TOOLS: UpstreamTool[] = [
  {
    tool: {
      name: 'transfer_funds',
      description: 'Transfer money to an account',
      inputSchema: objectSchema({ amount: { type: 'number' }, currency: { type: 'string' }, to: { type: 'string' } }, ['amount', 'to']),
    },
    run: (args) => ({ content: [{ type: 'text', text: `transferred ${String(args.amount)} ${String(args.currency ?? 'EUR')} to ${String(args.to)}` }] }),
  },
  {
    tool: { name: 'refund', description: 'Refund a payment', inputSchema: objectSchema({ payment: { type: 'string' } }, ['payment']) },
    run: (args) => ({ content: [{ type: 'text', text: `refunded ${String(args.payment)}` }] }),
  },
];
