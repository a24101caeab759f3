import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { decodeJwt, JWTPayload, JWTVerifyGetKey } from 'jose';
import { tokenProblem } from '../common/errors/token-errors';
import { jwksSource, verifyPartyToken } from '../common/keys/jwks-source';
import type { GatewayConfig } from './gateway-config';

export type Authenticated = { info: AuthInfo } | { error: 'missing' | 'invalid'; description: string };

/**
 * Who is calling the gateway: the agent's bearer token. It must be a JWT for one of the accepted
 * audiences and not expired; with `agent_issuers` configured, its signature and issuer are
 * verified here too. Either way Countersign verifies it again on every tools/call (it is sent as
 * agent.token), so no call is forwarded on a token Countersign does not trust.
 */
export class AgentAuthenticator {
  private readonly issuers = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly config: Pick<GatewayConfig, 'agent_audiences' | 'agent_issuers'>) {
    for (const i of config.agent_issuers) this.issuers.set(i.issuer, jwksSource(i.jwks_uri ? { url: i.jwks_uri, timeoutMs: 5000 } : { file: i.jwks_file! }));
  }

  async authenticate(header: string | undefined): Promise<Authenticated> {
    if (!header) return { error: 'missing', description: 'a bearer token is required' };
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
    if (!match) return { error: 'invalid', description: 'the Authorization header is not a bearer token' };
    const token = match[1];
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      return { error: 'invalid', description: 'the bearer token is not a JWT' };
    }
    const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    if (!aud.some((a) => this.config.agent_audiences.includes(a))) return { error: 'invalid', description: 'the token is not for this resource (aud)' };
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return { error: 'invalid', description: 'the token has expired' };
    if (this.issuers.size) {
      const keys = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
      if (!keys) return { error: 'invalid', description: 'the token is not from a trusted issuer' };
      try {
        await verifyPartyToken(token, keys, { issuer: claims.iss!, audience: this.config.agent_audiences });
      } catch (e) {
        return { error: 'invalid', description: tokenProblem(e) };
      }
    }
    const actors: string[] = [];
    for (let act = claims.act as { sub?: unknown; act?: unknown } | undefined; act && typeof act === 'object'; act = act.act as typeof act)
      actors.push(String(act.sub));
    return {
      info: {
        token,
        // Who the agent is, as sessions and parked calls are keyed: issuer, human, actor chain.
        clientId: JSON.stringify([claims.iss ?? '', claims.sub ?? '', actors]),
        scopes: [],
        expiresAt: claims.exp,
      },
    };
  }
}
