import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export interface RelayUpstream {
  url: string;
  /** Every tools/call and resources/read the server answered, in order. */
  received: { method: string; name: string }[];
  /** The client capabilities each of its sessions declared at initialize. */
  declared: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A real, stateful MCP server over Streamable HTTP (a server and transport per session, as the
 * SDK's stateful example does) that talks back to its client during a call: it elicits, samples,
 * reports progress and logs; it also serves resources (one fixed, one template, subscribable),
 * a prompt (with `promptsOnly`, only that prompt). Used by test/gateway/transparency.e2e-spec.ts.
 */
export async function startRelayUpstream(name = 'relay', options: { promptsOnly?: boolean } = {}): Promise<RelayUpstream> {
  const received: RelayUpstream['received'] = [];
  const declared: RelayUpstream['declared'] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const newServer = () => {
    const mcp = new McpServer({ name, version: '1.0.0' }, { capabilities: { logging: {}, resources: { subscribe: true }, completions: {} } });
    mcp.server.oninitialized = () => declared.push(mcp.server.getClientCapabilities() ?? {});
    mcp.registerPrompt('greet', { description: 'Greets someone', argsSchema: { who: z.string() } }, ({ who }) => {
      received.push({ method: 'prompts/get', name: 'greet' });
      return { messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${who}` } }] };
    });
    if (options.promptsOnly) return mcp;
    mcp.registerTool('ask_name', { description: 'Asks the user for a name', inputSchema: {} }, async (_args, extra) => {
      received.push({ method: 'tools/call', name: 'ask_name' });
      if (!mcp.server.getClientCapabilities()?.elicitation) return { content: [{ type: 'text', text: 'no elicitation offered' }] };
      const answer = await extra.sendRequest(
        {
          method: 'elicitation/create',
          params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
        },
        ElicitResultSchema,
      );
      return { content: [{ type: 'text', text: answer.action === 'accept' ? `hello ${String(answer.content?.name)}` : answer.action }] };
    });
    mcp.registerTool('summarize', { description: 'Asks the client model for a summary', inputSchema: { text: z.string() } }, async ({ text }, extra) => {
      received.push({ method: 'tools/call', name: 'summarize' });
      const answer = await extra.sendRequest(
        { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: `Summarize: ${text}` } }], maxTokens: 50 } },
        CreateMessageResultSchema,
      );
      return { content: [{ type: 'text', text: `model ${answer.model} said: ${(answer.content as { text: string }).text}` }] };
    });
    mcp.registerTool('list_roots', { description: "Lists the client's roots", inputSchema: {} }, async (_args, extra) => {
      received.push({ method: 'tools/call', name: 'list_roots' });
      const { roots } = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
      return { content: [{ type: 'text', text: roots.map((r) => r.uri).join(', ') }] };
    });
    // Two names for one tool, so that a policy can treat them differently.
    for (const tool of ['count', 'guarded_count'])
      mcp.registerTool(tool, { description: 'Counts to three, reporting progress', inputSchema: {} }, async (_args, extra) => {
        received.push({ method: 'tools/call', name: tool });
        const progressToken = extra._meta?.progressToken;
        for (let i = 1; i <= 3; i++) {
          if (progressToken !== undefined)
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: i, total: 3, message: `step ${i}` } });
        }
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: name, data: 'counted to three' } });
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'debug', logger: name, data: 'debug detail' } });
        return { content: [{ type: 'text', text: 'counted' }] };
      });
    mcp.registerResource('welcome', 'kb://notes/welcome', { mimeType: 'text/plain' }, async (uri) => {
      received.push({ method: 'resources/read', name: uri.href });
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Welcome to the knowledge base' }] };
    });
    mcp.registerResource(
      'note',
      new ResourceTemplate('kb://notes/{id}', { list: undefined, complete: { id: (value) => ['alpha', 'beta', 'gamma'].filter((v) => v.startsWith(value)) } }),
      { mimeType: 'text/plain' },
      async (uri, { id }) => {
        received.push({ method: 'resources/read', name: uri.href });
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: `note ${String(id)}` }] };
      },
    );
    // A subscription is answered with an update soon after (what a changing resource does).
    mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      setTimeout(() => void mcp.server.sendResourceUpdated({ uri: request.params.uri }).catch(() => undefined), 50);
      return {};
    });
    mcp.server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
    return mcp;
  };

  const http = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        const id = req.headers['mcp-session-id'];
        let transport = typeof id === 'string' ? sessions.get(id) : undefined;
        if (!transport) {
          if (body?.method !== 'initialize') {
            res.writeHead(400).end();
            return;
          }
          const created = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            onsessioninitialized: (sid) => void sessions.set(sid, created),
          });
          created.onclose = () => created.sessionId && sessions.delete(created.sessionId);
          await newServer().connect(created);
          transport = created;
        }
        await transport.handleRequest(req, res, body);
      })().catch(() => res.headersSent || res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    declared,
    close: async () => {
      await Promise.all([...sessions.values()].map((t) => t.close().catch(() => undefined)));
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
