import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, FetchImplementation, JSONWebKeySet, JWTVerifyGetKey } from 'jose';

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
