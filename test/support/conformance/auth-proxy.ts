import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP relay that adds `Authorization: Bearer <token>` to every request and streams both ways
 * unchanged (SSE included). The conformance runner cannot send headers, and the gateway requires
 * the agent token; this is the agent's credential and nothing else. A Host header naming the
 * relay, and an Origin naming its site, are rewritten to the target's (what a reverse proxy that
 * serves the gateway under its own name does); any other Host or Origin (the suite's DNS
 * rebinding probe) passes through as sent.
 */
export async function startBearerRelay(target: string, token: string): Promise<{ url: string; close(): Promise<void> }> {
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
    req.pipe(out);
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
