/**
 * The demo's upstream: four small MCP servers (payments, calendar, CRM, files) with realistic tools
 * and JSON Schema input schemas, served over Streamable HTTP from one process at
 * `/<server>/mcp`. In-memory data only. Every tools/call it receives is printed as one line
 * (`received <server>/<tool> <arguments as JSON>`), so the demo shows what reached the upstream.
 *
 *   node dist/src/demo/sample-upstream.js        (UPSTREAM_PORT, default 4001; UPSTREAM_HOST, default 127.0.0.1)
 */
import { randomUUID } from 'node:crypto';
import { createServer, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arguments arrive checked against each tool's inputSchema
type Args = Record<string, any>;
interface SampleTool {
  tool: Tool;
  run(args: Args): CallToolResult;
}

const result = (text: string, structured: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text }], structuredContent: structured });
const failure = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });

const CUSTOMERS = [
  {
    id: 'cus_1042',
    name: 'ACME GmbH',
    email: 'accounts@acme-gmbh.example',
    iban: 'DE89370400440532013000',
    open_invoices: [{ id: 'INV-42', amount: 25000, currency: 'EUR', due: '2026-12-04' }],
  },
  { id: 'cus_2077', name: 'Globex Ltd', email: 'ap@globex.example', iban: 'GB33BUKB20201555555555', open_invoices: [] },
];
const EVENTS: { id: string; title: string; start: string; end: string; attendees: string[] }[] = [
  {
    id: 'evt_1',
    title: 'Quarterly close review',
    start: '2026-12-07T09:00:00Z',
    end: '2026-12-07T10:00:00Z',
    attendees: ['alice@acme.example', 'bob@acme.example'],
  },
  { id: 'evt_2', title: 'Supplier call: ACME GmbH', start: '2026-12-08T14:00:00Z', end: '2026-12-08T14:30:00Z', attendees: ['alice@acme.example'] },
];
const FILES: Record<string, string> = {
  '/invoices/INV-42.pdf': 'Invoice INV-42 — ACME GmbH — 25,000.00 EUR — due 2026-12-04',
  '/reports/q3-board.pdf': 'Q3 board report (confidential)',
};

const iban = { type: 'string', pattern: '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$', description: 'The beneficiary IBAN' };

/** The tools of each server, by server name. */
export const SAMPLE_SERVERS: Record<string, SampleTool[]> = {
  payments: [
    {
      tool: {
        name: 'transfer_funds',
        title: 'Transfer funds',
        description: 'Send a SEPA transfer from the company account to a beneficiary.',
        inputSchema: {
          type: 'object',
          properties: {
            amount: { type: 'number', exclusiveMinimum: 0, description: 'Amount in the currency' },
            currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
            to: { type: 'object', properties: { iban, name: { type: 'string' } }, required: ['iban'] },
            memo: { type: 'string', maxLength: 140 },
          },
          required: ['amount', 'currency', 'to'],
        },
        annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: true },
      },
      run: (a) => {
        const id = `tr_${randomUUID().slice(0, 8)}`;
        return result(`Transfer ${id} executed: ${a.amount} ${a.currency} to ${a.to?.iban}${a.memo ? ` ("${a.memo}")` : ''}.`, {
          transfer_id: id,
          status: 'executed',
          amount: a.amount,
          currency: a.currency,
          to: a.to,
        });
      },
    },
  ],
  calendar: [
    {
      tool: {
        name: 'list_events',
        title: 'List events',
        description: "List the user's calendar events between two dates.",
        inputSchema: { type: 'object', properties: { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } } },
        annotations: { readOnlyHint: true },
      },
      run: (a) => {
        const from = a.from ? String(a.from) : '0000';
        const to = a.to ? `${String(a.to)}T99` : '9999';
        const events = EVENTS.filter((e) => e.start >= from && e.start <= to);
        return result(events.map((e) => `${e.start} ${e.title}`).join('\n') || 'No events.', { events });
      },
    },
    {
      tool: {
        name: 'create_event',
        title: 'Create event',
        description: 'Create a calendar event and invite attendees.',
        inputSchema: {
          type: 'object',
          properties: {
            title: { type: 'string' },
            start: { type: 'string', format: 'date-time' },
            end: { type: 'string', format: 'date-time' },
            attendees: { type: 'array', items: { type: 'string', format: 'email' } },
          },
          required: ['title', 'start', 'end'],
        },
      },
      run: (a) => {
        const event = {
          id: `evt_${EVENTS.length + 1}`,
          title: String(a.title),
          start: String(a.start),
          end: String(a.end),
          attendees: (a.attendees ?? []) as string[],
        };
        EVENTS.push(event);
        return result(`Created ${event.id}: ${event.title} at ${event.start}.`, { event });
      },
    },
  ],
  crm: [
    {
      tool: {
        name: 'lookup_customer',
        title: 'Look up customer',
        description: 'Find a customer by name or e-mail: contact, bank details and open invoices.',
        inputSchema: { type: 'object', properties: { query: { type: 'string', minLength: 2 } }, required: ['query'] },
        annotations: { readOnlyHint: true },
      },
      run: (a) => {
        const q = String(a.query).toLowerCase();
        const found = CUSTOMERS.find((c) => c.name.toLowerCase().includes(q) || c.email.includes(q));
        if (!found) return failure(`No customer matches "${a.query}".`);
        const invoices = found.open_invoices.map((i) => `${i.id} ${i.amount} ${i.currency} due ${i.due}`).join(', ') || 'none';
        return result(`${found.name} (${found.id}), IBAN ${found.iban}, open invoices: ${invoices}.`, { customer: found });
      },
    },
  ],
  files: [
    {
      tool: {
        name: 'read_file',
        title: 'Read file',
        description: 'Read a document from the company drive.',
        inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
        annotations: { readOnlyHint: true },
      },
      run: (a) => (a.path in FILES ? result(FILES[a.path], { path: a.path, content: FILES[a.path] }) : failure(`No file ${a.path}.`)),
    },
    {
      tool: {
        name: 'share_file',
        title: 'Share file',
        description: 'Share a document from the company drive with someone by e-mail (they get a link).',
        inputSchema: {
          type: 'object',
          properties: { path: { type: 'string' }, with: { type: 'string', format: 'email' }, permission: { type: 'string', enum: ['view', 'edit'] } },
          required: ['path', 'with'],
        },
        annotations: { openWorldHint: true },
      },
      run: (a) => result(`Shared ${a.path} with ${a.with} (${a.permission ?? 'view'}).`, { path: a.path, with: a.with, permission: a.permission ?? 'view' }),
    },
  ],
};

export interface ReceivedCall {
  server: string;
  tool: string;
  arguments: Args;
}

export interface SampleUpstream {
  /** `http://host:port`; server S is at `${url}/S/mcp`. */
  url: string;
  calls: ReceivedCall[];
  close(): Promise<void>;
}

/**
 * Starts the four servers on one port. Stateless Streamable HTTP: a server and transport per
 * request, as the SDK's stateless example does.
 */
export async function startSampleUpstream(options: { port?: number; host?: string; onCall?: (call: ReceivedCall) => void } = {}): Promise<SampleUpstream> {
  const calls: ReceivedCall[] = [];
  const http: HttpServer = createServer((req, res) => {
    const match = /^\/([a-z]+)\/mcp\/?(?:\?.*)?$/.exec(req.url ?? '');
    const tools = match ? SAMPLE_SERVERS[match[1]] : undefined;
    if (!match || !tools) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'not_found', servers: Object.keys(SAMPLE_SERVERS).map((s) => `/${s}/mcp`) }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const name = match[1];
    const server = new Server({ name: `sample-${name}`, version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: tools.map((t) => t.tool) }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const call = { server: name, tool: request.params.name, arguments: structuredClone(request.params.arguments ?? {}) };
      calls.push(call);
      options.onCall?.(call);
      const tool = tools.find((t) => t.tool.name === request.params.name);
      return tool ? tool.run(request.params.arguments ?? {}) : failure(`No tool ${request.params.name} on ${name}.`);
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    calls,
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

async function main(): Promise<void> {
  const upstream = await startSampleUpstream({
    port: Number(process.env.UPSTREAM_PORT ?? 4001),
    host: process.env.UPSTREAM_HOST ?? '127.0.0.1',
    onCall: (c) => process.stdout.write(`received ${c.server}/${c.tool} ${JSON.stringify(c.arguments)}\n`),
  });
  process.stdout.write(
    `Sample MCP servers listening: ${Object.keys(SAMPLE_SERVERS)
      .map((s) => `${upstream.url}/${s}/mcp`)
      .join(' ')}\n`,
  );
  const stop = () => void upstream.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  void main().catch((e) => {
    process.stderr.write(`the sample upstream could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
