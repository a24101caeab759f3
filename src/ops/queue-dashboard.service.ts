import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest, InvalidToken, ProtocolError } from '../common/errors/protocol-errors';
import { ADMIN_COOKIE } from './operator-credentials';
import { OperatorCredentials } from './operator-credentials';
import { ServiceQueues } from './service-queues';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

type BoardErrorHandler = Parameters<BullBoardFastifyAdapter['setErrorHandler']>[0];

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, for every queue of the service.
 *
 * bull-board registers plain Fastify routes, which Nest's AuthGuard never sees; they live in an
 * encapsulated Fastify context whose onRequest hook admits only an operator (OperatorVerifier:
 * scope countersign:operator and a subject in OPERATOR_SUBJECTS; a tenant's countersign:admin
 * is not enough, the jobs are every tenant's), as a bearer header or in the countersign_admin
 * cookie (see GET /admin/login). Otherwise 401 (with a Bearer challenge) or 403, as the API answers.
 *
 * Read-only: the queues are shared by all tenants and Postgres is the truth, so no one may
 * retry, remove, add, clean or pause jobs through the board.
 */
@Injectable()
export class QueueDashboard implements OnModuleInit {
  private readonly logger = new Logger('QueueDashboard');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly queues: ServiceQueues,
    private readonly admin: OperatorCredentials,
  ) {}

  /** Before app.listen()/init() boots Fastify: plugins registered here load with the rest. */
  onModuleInit(): void {
    const http = this.adapterHost.httpAdapter;
    if (!http) return; // an application context without HTTP: nothing to mount
    if (http.getType() !== 'fastify') {
      this.logger.warn(`queue dashboard not mounted: it needs the Fastify adapter (got ${http.getType()})`);
      return;
    }
    const board = new BullBoardFastifyAdapter();
    board.setBasePath(QUEUE_DASHBOARD_PATH);
    createBullBoard({
      queues: this.queues.all().map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'Countersign queues', hideDocsLink: true } },
    });
    // bull-board's own handler answers 500 with the raw message (and the stack in development).
    // Its types list only the statuses bull-board itself uses; Fastify sends any.
    board.setErrorHandler((error) => this.errorResponse(error) as ReturnType<BoardErrorHandler>);

    const fastify = http.getInstance<FastifyInstance>();
    // No fastify-plugin wrapper: the hook stays inside this context (the dashboard's routes only).
    void fastify.register(async (dashboard) => {
      dashboard.addHook('onRequest', (request, reply) => this.authenticate(request, reply));
      dashboard.addHook('onRequest', (request, reply) => rejectMalformedEncoding(request, reply));
      await dashboard.register(board.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
    });
  }

  /** Answers 401/403 itself and returns the reply (Fastify then skips the route); else lets it through. */
  private async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      await this.admin.verifyRequest(request.headers);
      return undefined;
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      if (e instanceof InvalidToken && wantsSignInPage(request)) {
        return reply.status(401).headers(e.headers()).headers(SIGN_IN_HEADERS).send(SIGN_IN_PAGE);
      }
      return reply.status(e.status).headers(e.headers()).header('cache-control', 'no-store').send(e.body());
    }
  }

  /** What a thrown error becomes on the board's routes: the API's error shape, internals never shown. */
  private errorResponse(error: Error): { status: number; body: Record<string, unknown> } {
    if (error instanceof ProtocolError) return { status: error.status, body: error.body() };
    if (error instanceof URIError) return { status: 400, body: MALFORMED_ENCODING.body() };
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { status, body: { error: 'invalid_request', error_description: error.message } };
    }
    this.logger.error(error.stack ?? error.message);
    return { status: 500, body: { error: 'server_error', error_description: 'internal error' } };
  }
}

/**
 * A browser that opens the board without a session (no bearer header, no cookie) gets a small
 * sign-in page instead of a JSON 401: a form that sends the operator token to GET /admin/login.
 * Self-contained (no fonts, scripts or other requests), so it works offline; API clients (no
 * text/html in Accept) and the board's own API calls keep the JSON 401.
 */
function wantsSignInPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' || request.headers.authorization !== undefined) return false;
  if (request.headers.cookie?.includes(`${ADMIN_COOKIE}=`)) return false;
  const path = (request.raw.url ?? '').split('?')[0];
  if (path.startsWith(`${QUEUE_DASHBOARD_PATH}/api/`) || path.startsWith(`${QUEUE_DASHBOARD_PATH}/static/`)) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

const SIGN_IN_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Countersign queues: sign in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}
label{display:block;margin:1rem 0 .25rem}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;font:inherit}code{background:#f3f3f3;padding:0 .2rem}</style></head>
<body><h1>Countersign queues</h1>
<p>The queue dashboard is for operators of this service. Sign in with an operator token: a JWT from the
gateways' issuer with the scope <code>countersign:operator</code> whose subject is listed in
<code>OPERATOR_SUBJECTS</code>. A tenant's <code>countersign:admin</code> token is not enough.</p>
<form method="get" action="/admin/login"><label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form>
<p>In demo mode: <code>npm run -s token -- --operator</code>.</p></body></html>
`;

const MALFORMED_ENCODING = new InvalidRequest('the URL is not valid percent-encoding (RFC 3986)');

/**
 * 400 unless the URL's path and query decode as UTF-8 percent-encoding, and each query value
 * decodes once more: bull-board decodes some of them again (activeQueue, queueName) and would
 * throw a URIError (a 500) on e.g. ?activeQueue=%25. The board's own links never need a "%"
 * left after one decoding: queue names here are plain words.
 */
async function rejectMalformedEncoding(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const problem = !decodes(path) ? 'the path is not valid percent-encoding (RFC 3986)' : malformedQueryParameter(q < 0 ? '' : url.slice(q + 1), request.query);
  if (!problem) return undefined;
  const error = new InvalidRequest(problem);
  return reply.status(error.status).header('cache-control', 'no-store').send(error.body());
}

function malformedQueryParameter(raw: string, parsed: unknown): string | undefined {
  for (const pair of raw.split('&')) {
    if (!decodes(pair.replace(/\+/g, ' '))) return `the query "${pair.split('=')[0].slice(0, 40)}" is not valid percent-encoding (RFC 3986)`;
  }
  for (const [name, value] of Object.entries((parsed ?? {}) as Record<string, unknown>)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && !decodes(v))) {
      return `the query parameter "${name.slice(0, 40)}" is not valid percent-encoding once decoded (a "%" must be followed by two hex digits)`;
    }
  }
  return undefined;
}

function decodes(s: string): boolean {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}
