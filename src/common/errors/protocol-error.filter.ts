import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ProtocolError, TemporarilyUnavailable } from './protocol-errors';
import { isDependencyUnavailable } from './unavailable';

const httpCodes: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_token',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'rate_limited',
};

/**
 * Maps every error to `{error, error_description}`; internals never leak (server_error). Postgres
 * or Redis being unreachable is a 503 temporarily_unavailable with Retry-After, not a bug.
 */
@Catch()
export class ProtocolErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof ProtocolError) {
      reply.status(exception.status).headers(exception.headers()).send(exception.body());
      return;
    }
    const status = statusOf(exception);
    if (status && status < 500) {
      const description =
        status === 404 && exception instanceof HttpException
          ? 'no such endpoint'
          : status === 400 && messageOf(exception).toLowerCase().includes('json')
            ? 'the body is not valid JSON'
            : messageOf(exception);
      reply.status(status).send({ error: httpCodes[status] ?? 'invalid_request', error_description: description });
      return;
    }
    if (isDependencyUnavailable(exception)) {
      const unavailable = new TemporarilyUnavailable();
      // One line, no stack: during an outage every request lands here.
      this.logger.warn(`dependency unavailable: ${exception instanceof Error ? exception.message : String(exception)}`);
      reply.status(unavailable.status).headers(unavailable.headers()).send(unavailable.body());
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    reply.status(500).send({ error: 'server_error', error_description: 'internal error' });
  }
}

function statusOf(e: unknown): number | undefined {
  if (e instanceof HttpException) return e.getStatus();
  const s = (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

function messageOf(e: unknown): string {
  if (e instanceof HttpException) {
    const r = e.getResponse();
    if (typeof r === 'string') return r;
    const m = (r as { message?: unknown }).message;
    return Array.isArray(m) ? m.join('; ') : String(m ?? e.message);
  }
  return e instanceof Error ? e.message : 'bad request';
}
