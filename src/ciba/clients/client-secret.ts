import { createHmac, randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets: generated here (32 random bytes, base64url), shown once, stored only as a
 * self-describing hash: "hmac-sha256$salt$hash" now, "scrypt$N$r$p$salt$hash" for secrets stored
 * before (still verified).
 *
 * Why a fast hash: a slow one (scrypt, bcrypt) protects low-entropy passwords from guessing; this
 * secret is 256 random bits the server chose, so a leaked hash cannot be guessed back whatever the
 * cost (NIST SP 800-63B §5.1.1.2 asks for slow hashing of memorized secrets only). Every token
 * request pays the verification (a poll every few seconds per pending request): scrypt cost ~10 ms
 * of the thread pool each, an HMAC a microsecond. The salt keeps equal secrets' hashes apart.
 */
const SCHEME = 'hmac-sha256';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  return [SCHEME, salt.toString('base64url'), hmac(secret, salt).toString('base64url')].join('$');
}

/** False for a wrong secret and for a stored value in an unknown format. */
export async function verifyClientSecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === SCHEME && parts.length === 3) {
    const expected = Buffer.from(parts[2], 'base64url');
    const actual = hmac(secret, Buffer.from(parts[1], 'base64url'));
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  const [scheme, n, r, p, salt, hash] = parts;
  if (scheme !== 'scrypt' || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await legacyScrypt(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) }, expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let unknownClientHash: Promise<string> | undefined;

/** Spends the time of one verification, so that an unknown client_id answers as slowly as a wrong secret. */
export async function verifyAgainstNothing(secret: string): Promise<false> {
  unknownClientHash ??= hashClientSecret(generateClientSecret());
  await verifyClientSecret(secret, await unknownClientHash);
  return false;
}

function hmac(secret: string, salt: Buffer): Buffer {
  return createHmac('sha256', salt).update(secret, 'utf8').digest();
}

function legacyScrypt(secret: string, salt: Buffer, params: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, length, { ...params, maxmem: 64 * 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key))));
}
