import { readFileSync } from 'node:fs';
import { importJWK, JWK, SignJWT } from 'jose';
import { loadConfig } from '../config/app-config';
import { DEV_AGENT_ISSUER, DEV_GATEWAY_ISSUER, ensureDevKeys } from '../common/keys/key-files';

export interface DevTokenRequest {
  tenant: string;
  /** Gateway token: its subject (the gateway id). */
  sub: string;
  /** Gateway token: OAuth scopes, space-separated. */
  scope?: string;
  ttlSeconds: number;
  /** Agent token: the acting agent, then each parent agent (outermost first). */
  agentChain?: string[];
  /** Agent token: the human it acts for. */
  human?: string;
  agentClass?: string;
  trustLevel?: string;
}

/**
 * Signs a development token with the key demo mode trusts (created in KEYS_DIR on first use): a
 * gateway token (tenant claim, optional scopes) or, with an agent chain, an agent token (RFC 8693:
 * sub = the human, act = the agent, each parent nested inside). `npm run token` and the demo use it.
 */
export async function mintDevToken(request: DevTokenRequest, env: Record<string, string | undefined> = process.env): Promise<string> {
  const config = loadConfig({ ...env, DEMO_MODE: 'true' });
  const paths = await ensureDevKeys(config.KEYS_DIR);
  const jwk = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
  const key = await importJWK(jwk, jwk.alg);
  let jwt: SignJWT;
  if (request.agentChain?.length) {
    if (!request.human) throw new Error('--human is required with --agent');
    const act = request.agentChain.reduceRight<Record<string, unknown> | undefined>((inner, sub) => (inner ? { sub, act: inner } : { sub }), undefined);
    jwt = new SignJWT({
      [config.AGENT_TENANT_CLAIM]: request.tenant,
      act,
      agent_class: request.agentClass ?? 'agent',
      trust_level: request.trustLevel ?? 'first_party_certified',
    })
      .setIssuer(DEV_AGENT_ISSUER)
      .setAudience(config.AGENT_AUDIENCE)
      .setSubject(request.human);
  } else {
    jwt = new SignJWT({ [config.GATEWAY_TENANT_CLAIM]: request.tenant, ...(request.scope ? { scope: request.scope } : {}) })
      .setIssuer(config.GATEWAY_ISSUER ?? DEV_GATEWAY_ISSUER)
      .setAudience(config.GATEWAY_AUDIENCE)
      .setSubject(request.sub);
  }
  return jwt.setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'JWT' }).setIssuedAt().setExpirationTime(`${request.ttlSeconds}s`).sign(key);
}
