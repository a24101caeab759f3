import { Injectable } from '@nestjs/common';
import { ADMIN_SCOPE, GatewayPrincipal } from '../common/auth/auth.decorators';
import { GatewayTokenVerifier } from '../common/auth/gateway-token.verifier';
import { requireScope } from '../common/auth/auth.guard';
import { InvalidToken } from '../common/errors/protocol-errors';

/** The cookie that carries an admin's gateway JWT to the queue dashboard (set by GET /admin/login). */
export const ADMIN_COOKIE = 'countersign_admin';
/** The cookie's path: the dashboard and the login route, nothing else. */
export const ADMIN_COOKIE_PATH = '/admin';

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Admin authentication for the routes Nest's AuthGuard does not see (bull-board registers raw
 * Fastify routes) and for the login route: a gateway JWT, verified like any other, that
 * carries the countersign:admin scope. Throws InvalidToken (401) / InsufficientScope (403).
 */
@Injectable()
export class AdminCredentials {
  constructor(private readonly gateways: GatewayTokenVerifier) {}

  /** `authorization` as in the header: "Bearer <jwt>". */
  async verify(authorization: string | undefined): Promise<GatewayPrincipal> {
    const principal = await this.gateways.verify(authorization);
    requireScope(principal, ADMIN_SCOPE);
    return principal;
  }

  /** The bearer header if there is one (then the cookie is ignored), else the admin cookie. */
  async verifyRequest(headers: { authorization?: string; cookie?: string }): Promise<GatewayPrincipal> {
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
