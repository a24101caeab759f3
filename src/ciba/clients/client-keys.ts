import { Inject, Injectable, Logger } from '@nestjs/common';
import { FetchImplementation, JWTPayload, jwtVerify, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { CLOCK_TOLERANCE_S, jwksSource } from '../../common/keys/jwks-source';
import { CallbackEndpointPolicy } from '../../approvals/callback-endpoint.policy';
import { InvalidClient } from '../../common/errors/protocol-errors';
import { requestPinned } from '../../common/pinned-request';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { ASSERTION_ALGORITHMS } from './ciba-client.commands';
import { CibaClient } from './ciba-client.entity';

const KEY_SETS_CACHED = 1000;
/** A JWKS larger than this is refused (a registered jwks holds at most 20 keys). */
const MAX_JWKS_BYTES = 256 * 1024;

/**
 * The public keys a registered client signs with (its inline JWKS, or its jwks_uri fetched and
 * cached by jose): for its client assertions and its login_hint_tokens.
 *
 * A jwks_uri is a URL a tenant admin chose, so it is held to the callback rules
 * (CALLBACK_ALLOWED_HOSTS, CALLBACK_ALLOW_HTTP): its name when the client is registered and again
 * here, and before every fetch the addresses it resolves to, the fetch then connecting to the
 * address that was checked (an allow-listed name resolving to 169.254.169.254 is never fetched).
 */
@Injectable()
export class ClientKeys {
  private readonly logger = new Logger(ClientKeys.name);
  /** Per client: its verification keys, rebuilt when its registration changes (remote sets keep their fetch cache). */
  private readonly keySets = new Map<string, { version: string; keys: JWTVerifyGetKey }>();

  constructor(
    private readonly endpoints: CallbackEndpointPolicy,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  of(client: CibaClient): JWTVerifyGetKey {
    const version = `${client.jwksUri ?? ''} ${client.updatedAt.getTime()}`;
    const cached = this.keySets.get(client.clientId);
    if (cached?.version === version) return cached.keys;
    let keys: JWTVerifyGetKey;
    if (client.jwksUri) {
      // Checked again on use: the allow-list may have changed since the client was registered.
      const problem = this.endpoints.problemWith(client.jwksUri);
      if (problem) {
        this.logger.warn(`CIBA client "${client.clientId}": jwks_uri refused (${problem})`);
        throw new InvalidClient('client authentication failed');
      }
      keys = jwksSource({ url: client.jwksUri, timeoutMs: this.config.CALLBACK_TIMEOUT_MS, fetch: this.pinnedFetch });
    } else if (client.jwks) {
      keys = jwksSource({ jwks: client.jwks });
    } else {
      throw new InvalidClient('the client has no registered keys');
    }
    this.keySets.delete(client.clientId);
    if (this.keySets.size >= KEY_SETS_CACHED) this.keySets.delete(this.keySets.keys().next().value!);
    this.keySets.set(client.clientId, { version, keys });
    return keys;
  }

  /**
   * jose's fetch for a jwks_uri: resolve and check the name (a refusal fails the fetch, so the
   * assertion is invalid_client and the reason is logged), then GET from the checked address only.
   */
  private readonly pinnedFetch: FetchImplementation = async (url, options) => {
    const checked = await this.endpoints.check(url);
    if (checked.refusal !== undefined) throw new Error(`jwks_uri refused: ${checked.refusal}`);
    const { status, body } = await requestPinned(new URL(url), checked.address, {
      method: 'GET',
      headers: Object.fromEntries(options.headers.entries()),
      signal: options.signal,
      maxBodyBytes: MAX_JWKS_BYTES,
    });
    // jose wants a 200 and reads JSON; any other final status (redirects too) fails the fetch.
    return new Response(status === 200 ? body!.toString('utf8') : null, { status: status >= 200 && status <= 599 ? status : 502 });
  };

  /**
   * Verifies a JWT the client signed (issuer = the client, an asymmetric algorithm, exp required)
   * for the given audience and any further checks; throws jose's errors.
   */
  async verify(client: CibaClient, token: string, expected: JWTVerifyOptions & { audience: string | string[] }): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.of(client), {
      clockTolerance: CLOCK_TOLERANCE_S,
      ...expected,
      issuer: client.clientId,
      algorithms: ASSERTION_ALGORITHMS,
      requiredClaims: ['exp', ...(expected.requiredClaims ?? [])],
    });
    return payload;
  }
}
