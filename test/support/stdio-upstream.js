// A stdio MCP server for the gateway tests: one tool, `echo`, that returns its arguments; each call
// it receives is appended as a JSON line to CALLS_FILE. Started by the gateway as `node stdio-upstream.js`.
const { appendFileSync } = require('node:fs');
const { Server } = require('@modelcontextprotocol/sdk/server/index.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { CallToolRequestSchema, ListToolsRequestSchema } = require('@modelcontextprotocol/sdk/types.js');

const server = new Server({ name: 'stdio-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [{ name: 'echo', description: 'Echo the arguments', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }],
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  appendFileSync(process.env.CALLS_FILE, `${JSON.stringify({ tool: request.params.name, arguments: request.params.arguments ?? {} })}\n`);
  return { content: [{ type: 'text', text: `echo ${JSON.stringify(request.params.arguments ?? {})}` }] };
});
void server.connect(new StdioServerTransport());
