import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InvalidToken } from '../errors/protocol-errors';
import { AUTH_KIND, AuthKind, Principal, REQUIRED_SCOPE } from './auth.decorators';
import { GatewayTokenVerifier } from './gateway-token.verifier';
import { ApproverLinkVerifier } from './approver-link.verifier';
import { OperatorVerifier } from './operator.verifier';
import { requireScope } from './scopes';

/**
 * The one global guard: every route must declare which credential it takes (@Public,
 * @GatewayAuth, @ApproverLinkAuth, @OperatorAuth); a route that declares none is refused, so a new endpoint
 * cannot ship unauthenticated by accident.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly gateways: GatewayTokenVerifier,
    private readonly links: ApproverLinkVerifier,
    private readonly operators: OperatorVerifier,
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
      case 'operator':
        request.principal = await this.operators.verify(authorization);
        return true;
      default:
        throw new InvalidToken('this endpoint accepts no credential');
    }
  }
}
