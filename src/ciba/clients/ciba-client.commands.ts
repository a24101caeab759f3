import { createPublicKey, JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import type { FieldProblem } from '../../common/errors/protocol-errors';
import { text } from '../../common/validation';
import { DELIVERY_MODES } from '../../vocabulary/envelope';
import { AUTH_METHODS, SECRET_AUTH_METHODS } from './ciba-client.entity';

/** RFC 6749 VSCHAR without the space: printable ASCII. Clients send it form-encoded, admins in a URL path. */
export const CLIENT_ID = /^[\x21-\x7e]{1,200}$/;

/** What a client may sign its assertions with: asymmetric algorithms only, never HS* or none. */
export const ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

// Members that only a private (or symmetric) key has (RFC 7518 §6, RFC 8037).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const CURVES: Record<string, string[]> = { EC: ['P-256', 'P-384', 'P-521'], OKP: ['Ed25519'] };

const publicJwk = z
  .looseObject({
    kty: z.enum(['RSA', 'EC', 'OKP'], { message: 'must be RSA, EC or OKP (a public signing key)' }),
    kid: z.string().min(1).max(200).optional(),
    use: z.literal('sig', { message: 'must be "sig"' }).optional(),
    alg: z.enum(ASSERTION_ALGORITHMS, { message: `must be one of ${ASSERTION_ALGORITHMS.join(', ')}` }).optional(),
  })
  .superRefine((key, ctx) => {
    const secret = PRIVATE_MEMBERS.filter((m) => m in key);
    for (const m of secret) ctx.addIssue({ code: 'custom', path: [m], message: 'is a private key member: register public keys only' });
    if (secret.length) return;
    if (CURVES[key.kty] && !CURVES[key.kty].includes(key.crv as string)) {
      ctx.addIssue({ code: 'custom', path: ['crv'], message: `must be one of ${CURVES[key.kty].join(', ')}` });
      return;
    }
    try {
      const details = createPublicKey({ key: key as JsonWebKey, format: 'jwk' }).asymmetricKeyDetails;
      if (key.kty === 'RSA' && (details?.modulusLength ?? 0) < 2048) ctx.addIssue({ code: 'custom', message: 'must be an RSA key of at least 2048 bits' });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid public key' });
    }
  });

const jwkSet = z.strictObject({
  keys: z
    .array(publicJwk, { message: 'must be an array of JWKs' })
    .min(1, { message: 'must list at least one key' })
    .max(20, { message: 'must list at most 20 keys' }),
});

const url = z.string().min(1, { message: 'must not be empty' }).max(2000, { message: 'must be at most 2000 characters' });

/** PUT /v1/ciba-clients/:client_id: the whole registration (RFC 7591 / CIBA metadata names). */
export const cibaClientInputSchema = z.strictObject({
  client_name: text(200).nullish(),
  backchannel_token_delivery_mode: z.enum(DELIVERY_MODES, { message: `must be one of ${DELIVERY_MODES.join(', ')}` }),
  backchannel_client_notification_endpoint: url.nullish(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS, { message: `must be one of ${AUTH_METHODS.join(', ')}` }),
  jwks: jwkSet.nullish(),
  jwks_uri: url.nullish(),
});
export type CibaClientInput = z.output<typeof cibaClientInputSchema>;

/**
 * The rules between fields: an endpoint exactly for ping and push; for private_key_jwt exactly
 * one of jwks and jwks_uri, for the secret methods neither (the server issues the secret).
 * `endpointProblem` is the SSRF policy for URLs the service will call.
 */
export function registrationProblems(input: CibaClientInput, endpointProblem: (url: string) => string | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const mode = input.backchannel_token_delivery_mode;
  const endpoint = input.backchannel_client_notification_endpoint;
  if (mode === 'poll' && endpoint) {
    problems.push({ field: 'backchannel_client_notification_endpoint', message: 'must not be set when backchannel_token_delivery_mode is poll' });
  } else if (mode !== 'poll' && !endpoint) {
    problems.push({ field: 'backchannel_client_notification_endpoint', message: `is required when backchannel_token_delivery_mode is ${mode}` });
  } else if (endpoint) {
    const problem = endpointProblem(endpoint);
    if (problem) problems.push({ field: 'backchannel_client_notification_endpoint', message: problem });
  }

  const method = input.token_endpoint_auth_method;
  if (SECRET_AUTH_METHODS.includes(method)) {
    for (const field of ['jwks', 'jwks_uri'] as const) {
      if (input[field]) problems.push({ field, message: `must not be set when token_endpoint_auth_method is ${method} (the server issues a client_secret)` });
    }
  } else if (input.jwks && input.jwks_uri) {
    problems.push({ field: 'jwks_uri', message: 'must not be set together with jwks' });
  } else if (!input.jwks && !input.jwks_uri) {
    problems.push({ field: 'jwks', message: 'or jwks_uri is required when token_endpoint_auth_method is private_key_jwt' });
  } else if (input.jwks_uri) {
    const problem = endpointProblem(input.jwks_uri);
    if (problem) problems.push({ field: 'jwks_uri', message: problem });
  }
  return problems;
}
