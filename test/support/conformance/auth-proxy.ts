import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP relay that adds `Authorization: Bearer <token>` to every request and streams both ways
 * unchanged (SSE included). The conformance runner cannot send headers, and the gateway requires
 * the agent token; this is the agent's credential and nothing else. A Host header naming the
 * relay, and an Origin naming its site, are rewritten to the target's (what a reverse proxy that
 * serves the gateway under its own name does); any other Host or Origin (the suite's DNS
 * rebinding probe) passes through as sent. With `toolPrefix` (diagnostics only) it also prefixes
 * bare tool names in tools/call.
 */
export async function startBearerRelay(target: string, token: string, options: { toolPrefix?: string } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  let self = '';
  const http = createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    if (req.headers.host === self) headers.host = to.host;
    if (req.headers.origin === `http://${self}`) headers.origin = to.origin;
    const out = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers }, (upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.rawHeaders);
      upstream.pipe(res);
    });
    out.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on('close', () => out.destroy());
    if (!options.toolPrefix || req.method !== 'POST') {
      req.pipe(out);
      return;
    }
    // Diagnostic mode: a tools/call naming a bare tool gets the gateway's "<server>__" prefix, to
    // tell what fails for the name alone from what fails in forwarding. Nothing else changes.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      try {
        const message = JSON.parse(body.toString('utf8'));
        if (message?.method === 'tools/call' && typeof message.params?.name === 'string' && !message.params.name.includes('__')) {
          message.params.name = `${options.toolPrefix}${message.params.name}`;
          body = Buffer.from(JSON.stringify(message));
        }
      } catch {
        // not JSON: relayed as is, the gateway answers it
      }
      out.setHeader('content-length', body.length);
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  self = `localhost:${port}`;
  return {
    url: `http://localhost:${port}${to.pathname}`,
    close: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
