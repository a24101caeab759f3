import { Injectable, Logger } from '@nestjs/common';
import { decodeJwt, errors, JWTPayload } from 'jose';
import { CLOCK_TOLERANCE_S } from '../../common/keys/jwks-source';
import { InvalidClient, InvalidRequest } from '../../common/errors/protocol-errors';
import { tokenProblem } from '../../common/errors/token-errors';
import { AuthMethod, CibaClient } from './ciba-client.entity';
import { ASSERTION_ALGORITHMS, CLIENT_ID } from './ciba-client.commands';
import { CibaClientRegistry } from './ciba-client-registry.service';
import { ClientKeys } from './client-keys';
import { verifyAgainstNothing, verifyClientSecret } from './client-secret';
import { UsedClientAssertions } from './used-client-assertions.repository';
import { VerifiedClientSecrets } from './verified-client-secrets';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A client assertion lives at most this long (exp − iat, or exp − now without iat). */
const MAX_ASSERTION_LIFETIME_S = 300;
const MAX_SECRET_LENGTH = 512;
/** The same words for an unknown client, a wrong method and wrong credentials: nothing tells them apart. */
export const FAILED = 'client authentication failed';
const PARAMETERS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'] as const;
type AuthParameters = Partial<Record<(typeof PARAMETERS)[number], string>>;

export interface ClientAuthenticationInput {
  /** The request's Authorization header, if any. */
  authorization?: string;
  /** The parsed form body (a repeated parameter arrives as an array). */
  body: Record<string, unknown>;
  /** What a client assertion's aud may name: the issuer and the endpoint's URL. */
  audiences: string[];
}

/**
 * OAuth client authentication for the CIBA endpoints (RFC 6749 §2.3, RFC 7523, OIDC Core §9):
 * client_secret_basic, client_secret_post and private_key_jwt, exactly one per request and the
 * one the client registered. Every failure is invalid_client; a client that tried HTTP Basic is
 * answered with the Basic challenge.
 */
@Injectable()
export class CibaClientAuthentication {
  private readonly logger = new Logger(CibaClientAuthentication.name);

  constructor(
    private readonly registry: CibaClientRegistry,
    private readonly usedAssertions: UsedClientAssertions,
    private readonly keys: ClientKeys,
    private readonly verified: VerifiedClientSecrets,
  ) {}

  async authenticate(input: ClientAuthenticationInput): Promise<CibaClient> {
    const form = authParameters(input.body);
    const basic = input.authorization !== undefined && input.authorization.trim() !== '';
    const used = [
      basic && 'client_secret_basic',
      form.client_secret !== undefined && 'client_secret_post',
      (form.client_assertion !== undefined || form.client_assertion_type !== undefined) && 'private_key_jwt',
    ].filter((m): m is AuthMethod => !!m);
    if (used.length === 0) throw new InvalidClient('the request carries no client authentication');
    if (used.length > 1) throw new InvalidClient(`the request must use one client authentication method, not ${used.join(' and ')}`, basic);

    if (basic) {
      const { clientId, secret } = basicCredentials(input.authorization!);
      if (form.client_id !== undefined && form.client_id !== clientId)
        throw new InvalidClient('client_id in the body does not match the Authorization header', true);
      return this.bySecret('client_secret_basic', clientId, secret);
    }
    if (form.client_secret !== undefined) {
      if (form.client_id === undefined) throw new InvalidClient('client_secret_post needs client_id in the body');
      return this.bySecret('client_secret_post', form.client_id, form.client_secret);
    }
    return this.byAssertion(form, input.audiences);
  }

  private async bySecret(method: 'client_secret_basic' | 'client_secret_post', clientId: string, secret: string): Promise<CibaClient> {
    const challenge = method === 'client_secret_basic';
    if (!CLIENT_ID.test(clientId)) throw new InvalidClient('client_id is malformed', challenge);
    if (secret.length > MAX_SECRET_LENGTH) throw new InvalidClient('client_secret is too long', challenge);
    // A secret verified moments ago needs no registry read (VerifiedClientSecrets).
    const known = this.verified.lookup(clientId, method, secret);
    if (known) return known;
    const generation = this.verified.generation;
    const client = await this.registry.find(clientId);
    const ok =
      client?.tokenEndpointAuthMethod === method && client.secretHash
        ? await verifyClientSecret(secret, client.secretHash)
        : await verifyAgainstNothing(secret);
    if (!ok) throw new InvalidClient(FAILED, challenge);
    this.verified.remember(client!, method, secret, generation);
    return client!;
  }

  private async byAssertion(form: AuthParameters, audiences: string[]): Promise<CibaClient> {
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) throw new InvalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    const assertion = form.client_assertion;
    if (!assertion) throw new InvalidClient('client_assertion is required');
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(assertion);
    } catch {
      throw new InvalidClient('client_assertion is not a JWT');
    }
    const clientId = unverified.iss;
    if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) throw new InvalidClient('the client assertion has no valid "iss" claim (the client_id)');
    if (unverified.sub !== clientId) throw new InvalidClient('the client assertion\'s "sub" claim must equal its "iss" (the client_id)');
    if (form.client_id !== undefined && form.client_id !== clientId) throw new InvalidClient('client_id does not match the client assertion\'s "iss"');

    const client = await this.registry.find(clientId);
    if (client?.tokenEndpointAuthMethod !== 'private_key_jwt') throw new InvalidClient(FAILED);
    let payload: JWTPayload;
    try {
      payload = await this.keys.verify(client, assertion, { subject: clientId, audience: audiences, requiredClaims: ['jti'] });
    } catch (e) {
      throw new InvalidClient(this.describe(e, client));
    }

    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp!;
    const issuedAt = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
    if (exp - issuedAt > MAX_ASSERTION_LIFETIME_S + CLOCK_TOLERANCE_S) {
      throw new InvalidClient(`the client assertion must expire at most ${MAX_ASSERTION_LIFETIME_S} seconds after it is issued`);
    }
    if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
      throw new InvalidClient('the client assertion\'s "jti" claim must be a string of 1 to 256 characters');
    }
    // Single use, in Postgres (a Redis flush must not make it usable again): remembered until it
    // could no longer be accepted anyway (exp plus the clock tolerance).
    const first = await this.usedAssertions.claim(client.tenantId, clientId, payload.jti, new Date((exp + CLOCK_TOLERANCE_S) * 1000));
    if (!first) throw new InvalidClient('the client assertion has already been used (jti)');
    return client;
  }

  /** What is wrong with a correctly signed assertion may be said; a bad signature or key is only "failed". */
  private describe(e: unknown, client: CibaClient): string {
    if (e instanceof errors.JWTExpired) return 'the client assertion has expired';
    if (e instanceof errors.JWTClaimValidationFailed) return tokenProblem(e, 'the client assertion');
    if (e instanceof errors.JOSEAlgNotAllowed) return `the client assertion must be signed with one of ${ASSERTION_ALGORITHMS.join(', ')}`;
    const unreachable = e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || !(e instanceof errors.JOSEError) || e.code === 'ERR_JOSE_GENERIC';
    if (client.jwksUri && unreachable) {
      this.logger.warn(
        `CIBA client "${client.clientId}": its keys could not be fetched from ${client.jwksUri} (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    return FAILED;
  }
}

/** The authentication parameters of the form, each at most once. */
function authParameters(body: Record<string, unknown>): AuthParameters {
  const out: AuthParameters = {};
  for (const name of PARAMETERS) {
    const value = body?.[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) throw InvalidRequest.forFields([{ field: name, message: 'must not be repeated' }]);
    if (typeof value !== 'string') throw InvalidRequest.forFields([{ field: name, message: 'must be a string' }]);
    out[name] = value;
  }
  return out;
}

/** RFC 6749 §2.3.1: both parts form-urlencoded before they are joined and base64-encoded. */
function basicCredentials(authorization: string): { clientId: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization.trim());
  if (!match) throw new InvalidClient('the Authorization header must carry HTTP Basic credentials', true);
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidClient('the Basic credentials must be client_id:client_secret', true);
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidClient('the Basic credentials are not form-urlencoded', true);
  }
}

const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
