import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets: generated here (32 random bytes, base64url), shown once, stored only as a
 * self-describing scrypt hash "scrypt$N$r$p$salt$hash" so that the parameters can change later.
 *
 * Why a low work factor: the secret is 256 random bits, so nobody can guess it from a leaked hash
 * whatever the cost, while every token request (a poll every few seconds per pending request)
 * pays the cost; scrypt with a salt still keeps the stored value useless as a credential.
 */
const PARAMS = { N: 4096, r: 8, p: 1 };
const KEY_LENGTH = 32;

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(secret, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** False for a wrong secret and for a stored value in an unknown format. */
export async function verifyClientSecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) }, expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let unknownClientHash: Promise<string> | undefined;

/** Spends the time of one verification, so that an unknown client_id answers as slowly as a wrong secret. */
export async function verifyAgainstNothing(secret: string): Promise<false> {
  unknownClientHash ??= hashClientSecret(generateClientSecret());
  await verifyClientSecret(secret, await unknownClientHash);
  return false;
}

function derive(secret: string, salt: Buffer, params: ScryptOptions, length = KEY_LENGTH): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, length, { ...params, maxmem: 64 * 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key))));
}
