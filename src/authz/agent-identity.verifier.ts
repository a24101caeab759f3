import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt, errors, JWTPayload, JWTVerifyGetKey } from 'jose';
import { jwksSource, verifyPartyToken } from '../common/keys/jwks-source';
import { MAX_ACT_DEPTH } from '../vocabulary/envelope';
import { VerifiedTokenCache } from '../common/auth/verified-token-cache';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { ActorFacts } from './policy/cedar-schema';

/** Chains deeper than this are refused: no real deployment nests agents further. */

export interface AgentIdentity {
  /** The originating human: the token's subject, the same at every hop. */
  human: string;
  /** The agents, current actor first (RFC 8693: the outermost `act` is the current actor). */
  actors: string[];
  agentClass: string;
  trustLevel: string;
  /** Who runs the current actor (the `operator` claim); "" when the token does not say. */
  operator: string;
  /**
   * The actors upstream of the current one, nearest first, each as its own `act` claim
   * describes it (`agent_class`, `trust_level`, `operator`; "unknown" / "" when it does not).
   */
  upstream: ActorFacts[];
  claims: JWTPayload;
}

export type AgentIdentityResult = { ok: true; identity: AgentIdentity } | { ok: false; reason: string; detail: string };

/**
 * Verifies an agent's token against the trusted issuers' JWKS (keys cached by jose). A bad
 * token is not an error of the request but a reason to deny, with a precise reason code.
 */
@Injectable()
export class AgentIdentityVerifier {
  private readonly issuers = new Map<string, JWTVerifyGetKey>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    for (const i of config.AGENT_ISSUERS) {
      this.issuers.set(i.issuer, jwksSource(i.jwks_uri ? { url: i.jwks_uri } : { file: i.jwks_file! }));
    }
  }

  /** An agent reuses its token for every call of a session: verify once per 30 s (see VerifiedTokenCache). */
  private readonly verified = new VerifiedTokenCache<AgentIdentityResult>();

  async verify(token: string, tenantId: string): Promise<AgentIdentityResult> {
    const key = `${tenantId} ${token}`;
    const cached = this.verified.get(key);
    if (cached) return cached;
    const result = await this.verifyUncached(token, tenantId);
    if (result.ok) this.verified.set(key, result, Number(result.identity.claims.exp));
    return result;
  }

  private async verifyUncached(token: string, tenantId: string): Promise<AgentIdentityResult> {
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return deny('agent_token_malformed', 'the agent token is not a JWT');
    }
    const keys = issuer ? this.issuers.get(issuer) : undefined;
    if (!keys) return deny('agent_token_untrusted_issuer', `issuer ${JSON.stringify(issuer ?? null)} is not trusted`);
    let payload: JWTPayload;
    try {
      payload = await verifyPartyToken(token, keys, { issuer: issuer!, audience: this.config.AGENT_AUDIENCE });
    } catch (e) {
      return deny(...reasonFor(e));
    }
    if (typeof payload.sub !== 'string' || !payload.sub) {
      return deny('agent_token_invalid_claim', 'the agent token\'s "sub" claim must be a non-empty string');
    }
    if (payload[this.config.AGENT_TENANT_CLAIM] !== tenantId) return deny('agent_token_tenant_mismatch', 'the agent token belongs to another tenant');
    const actors: string[] = [];
    const upstream: ActorFacts[] = [];
    for (let act = payload.act as Record<string, unknown> | undefined; act; act = act.act as typeof act) {
      if (typeof act !== 'object' || typeof act.sub !== 'string' || !act.sub) return deny('agent_token_bad_act', 'every act claim needs a sub');
      // The current actor's class and trust are the token's own claims (as before); each upstream actor's, its act claim's.
      if (actors.length)
        upstream.push({
          id: act.sub,
          agent_class: text(act.agent_class, 'unknown'),
          trust_level: text(act.trust_level, 'unknown'),
          operator: text(act.operator, ''),
        });
      actors.push(act.sub);
      if (actors.length > MAX_ACT_DEPTH) return deny('agent_chain_too_long', `act chains are limited to ${MAX_ACT_DEPTH} hops`);
    }
    if (actors.length === 0) return deny('agent_token_no_actor', 'the agent token has no act claim: nobody acts for its subject');
    return {
      ok: true,
      identity: {
        human: payload.sub!,
        actors,
        agentClass: typeof payload.agent_class === 'string' ? payload.agent_class : 'unknown',
        trustLevel: typeof payload.trust_level === 'string' ? payload.trust_level : 'unknown',
        operator: text(payload.operator, ''),
        upstream,
        claims: payload,
      },
    };
  }
}

const text = (claim: unknown, otherwise: string): string => (typeof claim === 'string' && claim ? claim : otherwise);

function deny(reason: string, detail: string): AgentIdentityResult {
  return { ok: false, reason, detail };
}

function reasonFor(e: unknown): [string, string] {
  if (e instanceof errors.JWTExpired) return ['agent_token_expired', 'the agent token has expired'];
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return ['agent_token_wrong_audience', 'the agent token is for another audience'];
    if (e.claim === 'nbf') return ['agent_token_not_yet_valid', 'the agent token is not valid yet'];
    if (e.claim === 'iat') return ['agent_token_invalid_claim', 'the agent token\'s "iat" claim is in the future'];
    return ['agent_token_invalid_claim', `the agent token's "${e.claim}" claim is not valid`];
  }
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey) {
    return ['agent_token_bad_signature', 'the agent token signature does not verify'];
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return ['agent_token_bad_signature', 'the agent token uses an algorithm that is not allowed'];
  return ['agent_token_malformed', 'the agent token is malformed'];
}
