import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The floor for a page that sets no Content-Security-Policy of its own (Swagger UI at /docs,
 * bull-board at /admin/queues): no framing, no plugins, no <base> pointing elsewhere. No
 * default-src: those pages load their own scripts and styles. base-uri is 'self', not 'none',
 * because bull-board's page carries <base href="/admin/queues/"> and its script URLs are relative
 * to it. Pages with their own policy (the approval page, the board's sign-in page) keep theirs.
 */
export const DEFAULT_HTML_CSP = "frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/** Pages that carry a credential in their links or forms: never cached. */
const NO_STORE_PREFIXES = ['/approve/', '/admin/'];

/**
 * One onSend hook on the root instance (so every plugin's routes inherit it, bull-board's too):
 * nosniff on every response; on every text/html response, whatever of X-Frame-Options,
 * Referrer-Policy, Content-Security-Policy (and Cache-Control on linked pages) the route did not
 * set itself. A header the route set is never replaced.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
    setDefault(reply, 'x-content-type-options', 'nosniff');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.toLowerCase().startsWith('text/html')) {
      setDefault(reply, 'x-frame-options', 'DENY');
      setDefault(reply, 'referrer-policy', 'no-referrer');
      setDefault(reply, 'content-security-policy', DEFAULT_HTML_CSP);
      const path = (request.raw.url ?? '').split('?')[0];
      if (NO_STORE_PREFIXES.some((prefix) => path.startsWith(prefix))) setDefault(reply, 'cache-control', 'no-store');
    }
    done(null, payload);
  });
}

function setDefault(reply: FastifyReply, name: string, value: string): void {
  if (!reply.hasHeader(name)) reply.header(name, value);
}
