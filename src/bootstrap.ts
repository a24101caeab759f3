import { INestApplicationContext, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, WorkerModule } from './app.module';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { DEV_AGENT_ISSUER, DEV_GATEWAY_ISSUER, ensureDevKeys, readVapidKeys } from './common/keys/key-files';
import { ConsoleLogger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { PinoLogger } from './common/logging/pino-logger';
import { requestIdFrom, runWithRequestId } from './common/logging/request-context';
import { serveOpenApiDocs } from './ops/openapi/openapi';
import { refuseEncodedBodies } from './common/http/content-encoding';
import { clientErrorReply, frameworkErrorReply } from './common/errors/framework-errors';
import { StorableParamsPipe } from './common/storable-params.pipe';
import { registerSecurityHeaders } from './common/http/security-headers';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * The signals that mean "shut down gracefully". Never the crash signals (SIGTRAP, SIGILL, SIGSEGV,
 * SIGABRT, ...), which Nest's enableShutdownHooks() subscribes to when given no list: a V8 fatal
 * error traps, a JS handler returns, the trapping instruction runs again, and the process spins at
 * 100 % CPU with its port open instead of dying and being restarted by its supervisor.
 */
export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Reads and validates the environment; in demo mode, fills in development keys. */
export async function resolveConfig(env: Record<string, string | undefined> = process.env): Promise<AppConfig> {
  const config = loadConfig(env);
  if (!config.DEMO_MODE) return config;
  const dev = await ensureDevKeys(config.KEYS_DIR);
  const vapid = config.VAPID_PUBLIC_KEY ? undefined : readVapidKeys(dev.vapidKeysFile);
  return {
    ...config,
    SIGNING_KEYS_FILE: config.SIGNING_KEYS_FILE ?? dev.signingKeysFile,
    GATEWAY_JWKS_FILE: config.GATEWAY_JWKS_URL ? config.GATEWAY_JWKS_FILE : (config.GATEWAY_JWKS_FILE ?? dev.gatewayJwksFile),
    GATEWAY_ISSUER: config.GATEWAY_ISSUER ?? DEV_GATEWAY_ISSUER,
    AGENT_ISSUERS: config.AGENT_ISSUERS.length ? config.AGENT_ISSUERS : [{ issuer: DEV_AGENT_ISSUER, jwks_file: dev.gatewayJwksFile }],
    CALLBACK_ALLOWED_HOSTS: config.CALLBACK_ALLOWED_HOSTS.length ? config.CALLBACK_ALLOWED_HOSTS : ['localhost', '127.0.0.1', '[::1]'],
    CALLBACK_ALLOW_HTTP: true,
    VAPID_PUBLIC_KEY: vapid?.publicKey ?? config.VAPID_PUBLIC_KEY,
    VAPID_PRIVATE_KEY: vapid?.privateKey ?? config.VAPID_PRIVATE_KEY,
  };
}

/** JSON lines through pino in production; Nest's coloured console for LOG_FORMAT=pretty. */
export function logger(config: AppConfig): LoggerService {
  if (config.LOG_FORMAT === 'json') return new PinoLogger(config.LOG_LEVEL);
  return new ConsoleLogger({ colors: true, logLevels: LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1) });
}

/** Builds the HTTP application (not yet listening), API docs at /docs included: used by main.ts, the tests and the benchmarks. */
export async function createApiApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    // On close, drop idle keep-alive connections at once instead of waiting out their timeout.
    forceCloseConnections: 'idle',
    // The caller's X-Request-Id when it is a plain token, else a new one: in every log line and audit event of the request.
    genReqId: (req: IncomingMessage) => requestIdFrom(req.headers['x-request-id']),
    frameworkErrors: frameworkErrorReply,
    clientErrorHandler: clientErrorReply,
    // A connection that never finishes its headers is closed after HTTP_HEADERS_TIMEOUT_MS (Node's
    // default is 60 s, checked every 30 s: such a connection was held 65-70 s). Node checks both
    // timeouts every connectionsCheckingInterval. The request timeout outlasts the longest long-poll.
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    http: { headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: Math.min(1000, config.HTTP_HEADERS_TIMEOUT_MS) },
  });
  const log = logger(config);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, { logger: log, abortOnError: false });
  app.useGlobalPipes(new StorableParamsPipe());
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    runWithRequestId(request.id, done);
  });
  registerSecurityHeaders(fastify);
  refuseEncodedBodies(fastify);
  if (log instanceof PinoLogger) {
    // The access log: the path only (query strings carry approver links), never headers or bodies.
    fastify.addHook('onResponse', (request, reply, done) => {
      log.pino.info(
        { request_id: request.id, method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
      done();
    });
  }
  serveOpenApiDocs(app);
  app.enableShutdownHooks([...SHUTDOWN_SIGNALS]);
  return app;
}

export async function createWorkerContext(config: AppConfig): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: logger(config), abortOnError: false });
  app.enableShutdownHooks([...SHUTDOWN_SIGNALS]);
  return app;
}

/**
 * Graceful shutdown, bounded: on SIGTERM or SIGINT Nest stops taking requests (new ones get 503),
 * answers open long-polls with the current status, lets in-flight requests and running jobs
 * finish, closes connections and exits. If that takes longer than SHUTDOWN_TIMEOUT_MS, the process
 * exits anyway: every job it held is redone from Redis (stalled-job recovery) or Postgres (the
 * reconciler), so nothing accepted is lost.
 */
export function boundShutdown(config: AppConfig, log: { warn(message: string): void }): void {
  for (const signal of SHUTDOWN_SIGNALS) {
    process.once(signal, () => {
      setTimeout(() => {
        log.warn(`shutdown took longer than SHUTDOWN_TIMEOUT_MS (${config.SHUTDOWN_TIMEOUT_MS} ms); exiting`);
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS).unref();
    });
  }
}

/** One line on stderr and exit 1: what a bad configuration looks like to an operator. */
export function exitOnConfigError(e: unknown): never {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`start-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
