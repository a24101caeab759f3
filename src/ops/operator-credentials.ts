import { Injectable } from '@nestjs/common';
import { OperatorPrincipal } from '../common/auth/auth.decorators';
import { OperatorVerifier } from '../common/auth/operator.verifier';
import { InvalidToken } from '../common/errors/protocol-errors';

/** The cookie that carries an operator's JWT to the queue dashboard (set by GET /admin/login). */
export const ADMIN_COOKIE = 'countersign_admin';
/** The cookie's path: the dashboard and the login route, nothing else. */
export const ADMIN_COOKIE_PATH = '/admin';

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Operator authentication for the routes Nest's AuthGuard does not see (bull-board registers raw
 * Fastify routes) and for the login route: the operator credential of OperatorVerifier (scope
 * countersign:operator and a subject in OPERATOR_SUBJECTS). A tenant's countersign:admin is not
 * enough: the queues hold every tenant's jobs. Throws InvalidToken (401) / InsufficientScope or
 * Forbidden (403).
 */
@Injectable()
export class OperatorCredentials {
  constructor(private readonly operators: OperatorVerifier) {}

  /** `authorization` as in the header: "Bearer <jwt>". */
  verify(authorization: string | undefined): Promise<OperatorPrincipal> {
    return this.operators.verify(authorization);
  }

  /** The bearer header if there is one (then the cookie is ignored), else the session cookie. */
  async verifyRequest(headers: { authorization?: string; cookie?: string }): Promise<OperatorPrincipal> {
    if (headers.authorization !== undefined) return this.verify(headers.authorization);
    const token = cookieValue(headers.cookie, ADMIN_COOKIE);
    if (token === undefined) return this.verify(undefined);
    if (!JWT.test(token)) throw new InvalidToken(`the ${ADMIN_COOKIE} cookie does not hold a token`);
    return this.verify(`Bearer ${token}`);
  }
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4: "name=value; name2=value2"). */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}
