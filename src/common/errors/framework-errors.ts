import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Fastify's `frameworkErrors`: what its router answers before any route, hook or filter runs
 * (a path whose percent-encoding does not decode, a parameter too long). Without it Fastify
 * answers in its own shape ({statusCode, code, message}); with it, in the API's.
 */
export function frameworkErrorReply(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 500;
  if (status >= 500) {
    void reply.status(500).send({ error: 'server_error', error_description: 'internal error' });
    return;
  }
  const description =
    error.code === 'FST_ERR_BAD_URL'
      ? 'the path is not valid percent-encoding (RFC 3986)'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path segment is too long'
        : 'the request is malformed';
  void reply.status(status).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: description });
}

/** What Node's HTTP parser refused, in the API's words (the statuses Fastify's default handler uses). */
const CLIENT_ERRORS: Record<string, { status: number; description: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, description: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, description: 'the request headers are too large' },
};

/**
 * Fastify's `clientErrorHandler`: a request Node's parser refused before Fastify saw it (headers
 * too large, a malformed request line, headers that never finished). Fastify's default answers in
 * its own shape ({error, message, statusCode}); this answers as every other error of the API does.
 * The connection is closed afterwards, as Node and Fastify do: its framing can no longer be trusted.
 */
export function clientErrorReply(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, description } = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, description: 'the request is malformed HTTP' };
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
