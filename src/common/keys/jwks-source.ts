import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, FetchImplementation, JSONWebKeySet, JWTPayload, JWTVerifyGetKey, jwtVerify } from 'jose';

/** What tokens from others (gateways, agents' issuers) may be signed with: asymmetric, never HS* or none. */
export const TRUSTED_TOKEN_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
/** Seconds of clock skew allowed between us and another party's issuer. */
export const CLOCK_TOLERANCE_S = 5;

/**
 * Where another party's public keys are: a JWKS URL (fetched and cached by jose; `fetch` replaces
 * the global fetch, e.g. one that connects only to a checked address), a file, or the set itself.
 */
export type JwksLocation = { url: string; timeoutMs?: number; fetch?: FetchImplementation } | { file: string } | { jwks: JSONWebKeySet };

/** The key lookup for jwtVerify: remote sets refetch at most every 30 s and are cached for 10 minutes. */
export function jwksSource(location: JwksLocation): JWTVerifyGetKey {
  if ('url' in location) {
    return createRemoteJWKSet(new URL(location.url), {
      timeoutDuration: location.timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      ...(location.fetch ? { [customFetch]: location.fetch } : {}),
    });
  }
  if ('file' in location) return createLocalJWKSet(JSON.parse(readFileSync(location.file, 'utf8')));
  return createLocalJWKSet(location.jwks);
}

/**
 * Verifies a token another party issued (a gateway's bearer token, an agent's token): a trusted
 * algorithm, a `kid` that names one of the party's keys (jose would otherwise try a lone key, or any
 * key of the algorithm), the signature, iss, aud, exp/nbf, and an `iat` that is not in the future:
 * a token "issued" later than now was minted with a wrong clock or to outlive a key rotation.
 * Throws jose's errors, so callers map them to their own messages.
 */
export async function verifyPartyToken(token: string, keys: JWTVerifyGetKey, expected: { issuer: string; audience: string | string[] }): Promise<JWTPayload> {
  const { payload } = await jwtVerify(
    token,
    // Called after the algorithm check, so an alg "none" token is still refused as such.
    (header, jws) => {
      if (typeof header.kid !== 'string' || !header.kid) throw new errors.JWSInvalid('the token has no "kid" header');
      return keys(header, jws);
    },
    { ...expected, algorithms: TRUSTED_TOKEN_ALGORITHMS, clockTolerance: CLOCK_TOLERANCE_S, requiredClaims: ['exp', 'sub'] },
  );
  if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_S) {
    throw new errors.JWTClaimValidationFailed('"iat" claim timestamp check failed (it should be in the past)', payload, 'iat', 'check_failed');
  }
  return payload;
}
