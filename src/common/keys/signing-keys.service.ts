import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { CryptoKey, importJWK, JWK, JWTPayload, jwtVerify, JWTVerifyResult, SignJWT, createLocalJWKSet } from 'jose';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { publicJwk, readJwksFile } from './key-files';

export interface SignOptions {
  typ: string;
  audience: string | string[];
  subject?: string;
  expiresAt: Date;
  jti?: string;
}

/**
 * The service's own signing keys: approval tokens and approver links are JWS signed with the
 * first key; every key's public half is published at /.well-known/jwks.json so that keys can
 * be rotated (add a new first key, keep the old one until its tokens have expired).
 */
@Injectable()
export class SigningKeys implements OnModuleInit {
  private signingKey!: CryptoKey;
  private signingJwk!: JWK;
  private publicKeys: JWK[] = [];
  private verifier!: ReturnType<typeof createLocalJWKSet>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    const { keys } = readJwksFile(this.config.SIGNING_KEYS_FILE!);
    const first = keys[0];
    if (!first.kid || !first.alg || !first.d) {
      throw new Error('SIGNING_KEYS_FILE: the first key must be a private JWK with "kid" and "alg"');
    }
    this.signingJwk = first;
    this.signingKey = (await importJWK(first, first.alg)) as CryptoKey;
    this.publicKeys = keys.map(publicJwk);
    this.verifier = createLocalJWKSet({ keys: this.publicKeys });
  }

  get issuer(): string {
    return this.config.PUBLIC_URL;
  }

  /** The JWS algorithm of the current signing key (advertised in the OpenID metadata). */
  get algorithm(): string {
    return this.signingJwk.alg!;
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.publicKeys };
  }

  async sign(claims: JWTPayload, options: SignOptions): Promise<string> {
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: this.signingJwk.alg!, kid: this.signingJwk.kid, typ: options.typ })
      .setIssuer(this.issuer)
      .setAudience(options.audience)
      .setIssuedAt()
      .setExpirationTime(options.expiresAt);
    if (options.subject) jwt = jwt.setSubject(options.subject);
    if (options.jti) jwt = jwt.setJti(options.jti);
    return jwt.sign(this.signingKey);
  }

  /** Verifies a token this service signed; throws jose's errors on any problem. */
  async verify(token: string, expected: { typ: string; audience: string; currentDate?: Date }): Promise<JWTVerifyResult> {
    return jwtVerify(token, this.verifier, {
      issuer: this.issuer,
      audience: expected.audience,
      typ: expected.typ,
      algorithms: ['ES256', 'EdDSA'],
      currentDate: expected.currentDate,
    });
  }
}
