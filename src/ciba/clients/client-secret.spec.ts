import { randomBytes, scryptSync } from 'node:crypto';
import { generateClientSecret, hashClientSecret, verifyClientSecret } from './client-secret';

describe('client secrets', () => {
  it('are 32 random bytes in base64url', () => {
    const secret = generateClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateClientSecret()).not.toBe(secret);
  });

  it('are stored as a salted, self-describing HMAC-SHA-256 that verifies only the same secret', async () => {
    const secret = generateClientSecret();
    const stored = await hashClientSecret(secret);
    expect(stored).toMatch(/^hmac-sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(await hashClientSecret(secret)).not.toBe(stored);
    expect(await verifyClientSecret(secret, stored)).toBe(true);
    expect(await verifyClientSecret(generateClientSecret(), stored)).toBe(false);
    expect(await verifyClientSecret(secret.slice(1), stored)).toBe(false);
    // One character of the digest changed: its first, which holds six whole bits of it (the last
    // holds four and two padding bits, which decode to the same bytes when only those change).
    expect(
      await verifyClientSecret(
        secret,
        stored.replace(/\$(.)([^$]{42})$/, (_, c: string, rest: string) => `$${c === 'A' ? 'B' : 'A'}${rest}`),
      ),
    ).toBe(false);
  });

  it('stored before as scrypt still verify, and only the same secret', async () => {
    const secret = generateClientSecret();
    const salt = randomBytes(16);
    const hash = scryptSync(secret, salt, 32, { N: 4096, r: 8, p: 1 });
    const stored = ['scrypt', 4096, 8, 1, salt.toString('base64url'), hash.toString('base64url')].join('$');
    expect(await verifyClientSecret(secret, stored)).toBe(true);
    expect(await verifyClientSecret(generateClientSecret(), stored)).toBe(false);
  });

  it('never verify against a stored value in an unknown format', async () => {
    expect(await verifyClientSecret('x', 'plain$x')).toBe(false);
    expect(await verifyClientSecret('x', 'hmac-sha256$x')).toBe(false);
    expect(await verifyClientSecret('x', '')).toBe(false);
  });
});
