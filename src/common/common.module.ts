import { Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApproverLinkVerifier } from './auth/approver-link.verifier';
import { AuthGuard } from './auth/auth.guard';
import { GatewayTokenVerifier } from './auth/gateway-token.verifier';
import { OperatorVerifier } from './auth/operator.verifier';
import { ProtocolErrorFilter } from './errors/protocol-error.filter';
import { HostResolver } from './host-resolver';
import { JwksController } from './keys/jwks.controller';
import { SigningKeys } from './keys/signing-keys.service';
import { RateLimiter } from './rate-limit/rate-limiter.service';

/** Authentication, rate limits, signing keys, error mapping and outbound DNS checks: no domain knowledge. */
@Global()
@Module({
  controllers: [JwksController],
  providers: [
    SigningKeys,
    HostResolver,
    GatewayTokenVerifier,
    ApproverLinkVerifier,
    OperatorVerifier,
    RateLimiter,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_FILTER, useClass: ProtocolErrorFilter },
  ],
  exports: [SigningKeys, HostResolver, GatewayTokenVerifier, ApproverLinkVerifier, OperatorVerifier, RateLimiter],
})
export class CommonModule {}
