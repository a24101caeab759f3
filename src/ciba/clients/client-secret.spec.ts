import { generateClientSecret, hashClientSecret, verifyClientSecret } from './client-secret';

describe('client secrets', () => {
  it('are 32 random bytes in base64url', () => {
    const secret = generateClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateClientSecret()).not.toBe(secret);
  });

  it('are stored as a salted, self-describing scrypt hash that verifies only the same secret', async () => {
    const secret = generateClientSecret();
    const stored = await hashClientSecret(secret);
    expect(stored).toMatch(/^scrypt\$4096\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(await hashClientSecret(secret)).not.toBe(stored);
    expect(await verifyClientSecret(secret, stored)).toBe(true);
    expect(await verifyClientSecret(generateClientSecret(), stored)).toBe(false);
    expect(await verifyClientSecret(secret.slice(1), stored)).toBe(false);
  });

  it('never verify against a stored value in an unknown format', async () => {
    expect(await verifyClientSecret('x', 'plain$x')).toBe(false);
    expect(await verifyClientSecret('x', '')).toBe(false);
  });
});
