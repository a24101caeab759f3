import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { Forbidden } from '../errors/protocol-errors';
import { OPERATOR_SCOPE, OperatorPrincipal } from './auth.decorators';
import { requireScope } from './scopes';
import { GatewayTokenVerifier } from './gateway-token.verifier';

/**
 * Verifies an operator: a gateway JWT (signature, iss, aud, exp, as any) that carries the
 * countersign:operator scope AND whose `sub` is listed in OPERATOR_SUBJECTS. Both, because a
 * scope alone is whatever the identity provider lets a tenant's client ask for, while the
 * allow-list is this deployment's own decision. A tenant's countersign:admin grants nothing
 * here. 401 for a bad token, 403 (insufficient_scope / forbidden) for a valid non-operator.
 */
@Injectable()
export class OperatorVerifier {
  private readonly subjects: ReadonlySet<string>;

  constructor(
    private readonly gateways: GatewayTokenVerifier,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.subjects = new Set(config.OPERATOR_SUBJECTS);
  }

  /** `authorization` as in the header: "Bearer <jwt>". */
  async verify(authorization: string | undefined): Promise<OperatorPrincipal> {
    const gateway = await this.gateways.verify(authorization);
    requireScope(gateway, OPERATOR_SCOPE);
    const subject = gateway.claims.sub;
    if (typeof subject !== 'string' || !this.subjects.has(subject)) {
      throw new Forbidden("the token's subject is not an operator of this service (OPERATOR_SUBJECTS)");
    }
    return { kind: 'operator', subject, claims: gateway.claims };
  }
}
