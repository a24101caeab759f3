import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InvalidToken } from '../errors/protocol-errors';
import { AUTH_KIND, AuthKind, Principal, REQUIRED_SCOPE } from './auth.decorators';
import { GatewayTokenVerifier } from './gateway-token.verifier';
import { ApproverLinkVerifier } from './approver-link.verifier';
import { OperatorVerifier } from './operator.verifier';
import { requireScope } from './scopes';
import { RateLimiter } from '../rate-limit/rate-limiter.service';
import { approverBatchBucket, approverLinkBucket } from '../rate-limit/rate-limit';

/**
 * The one global guard: every route must declare which credential it takes (@Public,
 * @GatewayAuth, @ApproverLinkAuth, @OperatorAuth); a route that declares none is refused, so a new endpoint
 * cannot ship unauthenticated by accident. Once a gateway or an approver link is known, its rate
 * limit is counted (one Redis round trip), before the handler does any work.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly gateways: GatewayTokenVerifier,
    private readonly links: ApproverLinkVerifier,
    private readonly operators: OperatorVerifier,
    private readonly limits: RateLimiter,
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
        await this.limits.consume('gateway', `${gateway.tenantId}\n${gateway.gatewayId}`);
        request.principal = gateway;
        return true;
      }
      case 'approver-link': {
        const approver = await this.links.verify(authorization);
        await this.limits.consume('approver_link', approverLinkBucket(approver));
        request.principal = approver;
        return true;
      }
      case 'approver-batch': {
        const approver = await this.links.verifyBatch(authorization);
        await this.limits.consume('approver_link', approverBatchBucket(approver));
        request.principal = approver;
        return true;
      }
      case 'operator':
        request.principal = await this.operators.verify(authorization);
        return true;
      default:
        throw new InvalidToken('this endpoint accepts no credential');
    }
  }
}
