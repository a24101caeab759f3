/**
 * Recognises "a dependency is down" (Postgres or Redis unreachable, restarting, refusing
 * connections, out of connection slots): a 503 with Retry-After that clients retry, not a
 * server_error that looks like a bug. Looks through TypeORM's QueryFailedError (driverError),
 * `cause` chains and AggregateErrors (a connection attempt to several addresses).
 */
import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/** Socket-level failures reaching Postgres or Redis. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * SQLSTATEs: class 08 (connection exception), 57P01–57P03 (admin shutdown, crash shutdown,
 * cannot connect now: starting up or recovering), 53300 (too many connections).
 */
const SQLSTATE_UNAVAILABLE = /^(08...|57P0[1-3]|53300)$/;

/** node-postgres, pg-pool and ioredis say it in words, without a code. */
const MESSAGES = [
  /^Connection terminated/i, // "… unexpectedly", "… due to connection timeout"
  /timeout exceeded when trying to connect/i, // pg-pool: no connection within connectionTimeoutMillis
  /Client has encountered a connection error and is not queryable/i,
  /not currently accepting connections/i, // ALLOW_CONNECTIONS false (SQLSTATE 55000)
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /^Connection is closed\.?$/i, // ioredis
  /Stream isn't writeable and enableOfflineQueue options is false/i, // ioredis
  /Reached the max retries per request limit/i, // ioredis MaxRetriesPerRequestError
];

/**
 * TypeORM releases a transaction's query runner when its connection errors (a terminated backend,
 * a restart), so the transaction's next query throws this instead of the connection's own error.
 * Reached only through a lost connection in this code base: a transaction's manager is never used
 * after its callback returns.
 */
const lostQueryRunner = (e: object) => e instanceof QueryRunnerProviderAlreadyReleasedError || e instanceof QueryRunnerAlreadyReleasedError;

export function isDependencyUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as { code?: unknown; name?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SQLSTATE_UNAVAILABLE.test(e.code))) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (lostQueryRunner(e)) return true;
  if (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDependencyUnavailable(inner, depth + 1))) return true;
  return isDependencyUnavailable(e.driverError, depth + 1) || isDependencyUnavailable(e.cause, depth + 1);
}
