import type { FastifyInstance } from 'fastify';

/**
 * Request bodies are read as sent: no content coding is decoded. A body declared gzip, br or
 * anything but identity is refused 415 (RFC 9110 §15.5.16) before it is parsed, rather than read
 * as JSON whatever its coding says (a compressed body would be garbage; a plain one mislabelled).
 */
export function refuseEncodedBodies(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const coding = request.headers['content-encoding'];
    if (coding === undefined || coding.trim().toLowerCase() === 'identity' || coding.trim() === '') return done();
    void reply.status(415).header('accept-encoding', 'identity').header('cache-control', 'no-store').send({
      error: 'invalid_request',
      error_description: 'Content-Encoding is not supported: send the body unencoded (identity)',
      field: 'content-encoding',
    });
  });
}
