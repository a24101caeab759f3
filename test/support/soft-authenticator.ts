import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A WebAuthn authenticator and browser in software (ES256, "none" attestation, user verified):
 * for server tests that need real registrations and assertions without Chromium. It signs what
 * it is given, exactly as a platform authenticator would, so the server's checks run for real.
 */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(32).toString('base64url');
  private readonly privateKey: KeyObject;
  private readonly cose: Uint8Array;
  private counter = 0;

  /** Whether the next ceremony reports user verification (the UV flag); a test may switch it off. */
  userVerified: boolean;

  constructor(
    readonly origin: string,
    options: { userVerified?: boolean } = {},
  ) {
    this.userVerified = options.userVerified ?? true;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const map = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x, 'base64url')],
      [-3, Buffer.from(jwk.y, 'base64url')],
    ]);
    this.cose = isoCBOR.encode(map as never);
  }

  private flags(extra = 0): number {
    return 0x01 | (this.userVerified ? 0x04 : 0) | extra;
  }

  /** The RegistrationResponseJSON for PublicKeyCredentialCreationOptionsJSON from the server. */
  register(options: { challenge: string; rp: { id?: string } }) {
    const rpId = options.rp.id ?? new URL(this.origin).hostname;
    const credId = Buffer.from(this.credentialId, 'base64url');
    const authData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      Buffer.from([this.flags(0x40)]),
      Buffer.from([0, 0, 0, 0]),
      Buffer.alloc(16),
      Buffer.from([credId.length >> 8, credId.length & 0xff]),
      credId,
      Buffer.from(this.cose),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.origin, crossOrigin: false }));
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key' as const,
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /** The AuthenticationResponseJSON for PublicKeyCredentialRequestOptionsJSON from the server. */
  assert(options: { challenge: string; rpId?: string }) {
    const rpId = options.rpId ?? new URL(this.origin).hostname;
    this.counter += 1;
    const authData = Buffer.concat([
      createHash('sha256').update(rpId).digest(),
      Buffer.from([this.flags()]),
      Buffer.from([(this.counter >>> 24) & 0xff, (this.counter >>> 16) & 0xff, (this.counter >>> 8) & 0xff, this.counter & 0xff]),
    ]);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), this.privateKey);
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key' as const,
      response: {
        authenticatorData: authData.toString('base64url'),
        clientDataJSON: clientDataJSON.toString('base64url'),
        signature: signature.toString('base64url'),
      },
      clientExtensionResults: {},
    };
  }
}
