import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InsufficientScope, InvalidToken } from '../errors/protocol-errors';
import { AUTH_KIND, AuthKind, GatewayPrincipal, Principal, REQUIRED_SCOPE } from './auth.decorators';
import { GatewayTokenVerifier } from './gateway-token.verifier';
import { ApproverLinkVerifier } from './approver-link.verifier';

/**
 * The one global guard: every route must declare which credential it takes (@Public,
 * @GatewayAuth, @ApproverLinkAuth); a route that declares none is refused, so a new endpoint
 * cannot ship unauthenticated by accident.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly gateways: GatewayTokenVerifier,
    private readonly links: ApproverLinkVerifier,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const kind = this.reflector.getAllAndOverride<AuthKind | undefined>(AUTH_KIND, [ctx.getHandler(), ctx.getClass()]);
    const request = ctx.switchToHttp().getRequest<FastifyRequest & { principal?: Principal }>();
    const authorization = request.headers.authorization;
    switch (kind) {
      case 'public':
        return true;
      case 'gateway': {
        const gateway = await this.gateways.verify(authorization);
        const scope = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_SCOPE, [ctx.getHandler(), ctx.getClass()]);
        if (scope) requireScope(gateway, scope);
        request.principal = gateway;
        return true;
      }
      case 'approver-link':
        request.principal = await this.links.verify(authorization);
        return true;
      default:
        throw new InvalidToken('this endpoint accepts no credential');
    }
  }
}

/** OAuth scopes from `scope` (space-separated, RFC 8693/9068) or `scp` (an array, as some IdPs issue). */
/** 403 insufficient_scope unless the gateway's token carries `scope`. */
export function requireScope(gateway: GatewayPrincipal, scope: string): void {
  if (!scopesOf(gateway.claims).includes(scope)) throw new InsufficientScope(`this endpoint needs the "${scope}" scope`);
}

function scopesOf(claims: Record<string, unknown>): string[] {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return [];
}
