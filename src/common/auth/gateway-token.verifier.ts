import { Inject, Injectable } from '@nestjs/common';
import { JWTVerifyGetKey } from 'jose';
import { jwksSource, verifyPartyToken } from '../keys/jwks-source';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { InvalidToken } from '../errors/protocol-errors';
import { invalidToken } from '../errors/token-errors';
import { GatewayPrincipal } from './auth.decorators';
import { VerifiedTokenCache } from './verified-token-cache';

const TENANT_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Verifies a gateway's bearer JWT against the configured JWKS: kid, signature, iss, aud, exp/nbf/iat, tenant. */
@Injectable()
export class GatewayTokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  private readonly verified = new VerifiedTokenCache<GatewayPrincipal>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.keys = jwksSource(config.GATEWAY_JWKS_URL ? { url: config.GATEWAY_JWKS_URL } : { file: config.GATEWAY_JWKS_FILE! });
  }

  async verify(authorization: string | undefined): Promise<GatewayPrincipal> {
    const token = bearerToken(authorization);
    const cached = this.verified.get(token);
    if (cached) return cached;
    const principal = await this.verifyUncached(token);
    this.verified.set(token, principal, Number(principal.claims.exp));
    return principal;
  }

  private async verifyUncached(token: string): Promise<GatewayPrincipal> {
    let payload: Record<string, unknown>;
    try {
      payload = await verifyPartyToken(token, this.keys, { issuer: this.config.GATEWAY_ISSUER!, audience: this.config.GATEWAY_AUDIENCE });
    } catch (e) {
      throw invalidToken(e);
    }
    const tenant = payload[this.config.GATEWAY_TENANT_CLAIM];
    if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) {
      throw new InvalidToken(`the token has no valid "${this.config.GATEWAY_TENANT_CLAIM}" claim`);
    }
    const gatewayId = [payload.azp, payload.client_id, payload.sub].find((v) => typeof v === 'string') as string;
    return { kind: 'gateway', tenantId: tenant, gatewayId, claims: payload };
  }
}

export function bearerToken(authorization: string | undefined): string {
  if (!authorization) throw new InvalidToken('missing bearer token');
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (!match) throw new InvalidToken('the Authorization header is not a bearer token');
  return match[1];
}
