import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

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
