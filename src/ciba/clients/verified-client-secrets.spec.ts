import type { CibaClient } from './ciba-client.entity';
import { VERIFIED_SECRET_TTL_MS, VerifiedClientSecrets } from './verified-client-secrets';

const client = { clientId: 'gw-1', tenantId: 'acme' } as CibaClient;
const T = 1_000_000;

describe('VerifiedClientSecrets', () => {
  it('answers the client for the secret and method it verified, within the TTL only', () => {
    const verified = new VerifiedClientSecrets();
    verified.remember(client, 'client_secret_basic', 's3cret', verified.generation, T);
    expect(verified.lookup('gw-1', 'client_secret_basic', 's3cret', T + 1)).toBe(client);
    expect(verified.lookup('gw-1', 'client_secret_basic', 's3cret', T + VERIFIED_SECRET_TTL_MS)).toBeUndefined();
  });

  it('does not answer for another secret, another method or another client', () => {
    const verified = new VerifiedClientSecrets();
    verified.remember(client, 'client_secret_basic', 's3cret', verified.generation, T);
    expect(verified.lookup('gw-1', 'client_secret_basic', 's3cret!', T)).toBeUndefined();
    expect(verified.lookup('gw-1', 'client_secret_post', 's3cret', T)).toBeUndefined();
    expect(verified.lookup('gw-2', 'client_secret_basic', 's3cret', T)).toBeUndefined();
  });

  it('keeps neither the secret nor anything that is not keyed by this process', () => {
    const verified = new VerifiedClientSecrets();
    verified.remember(client, 'client_secret_basic', 's3cret-value', verified.generation, T);
    const entry = (verified as unknown as { entries: Map<string, { mac: Buffer }> }).entries.get('gw-1')!;
    expect(JSON.stringify(entry)).not.toContain('s3cret-value');
    expect(entry.mac.toString('latin1')).not.toContain('s3cret-value');
  });

  it('forgets a client at once, and does not remember a verification that began before a forget', () => {
    const verified = new VerifiedClientSecrets();
    verified.remember(client, 'client_secret_basic', 's3cret', verified.generation, T);
    verified.forget('gw-1');
    expect(verified.lookup('gw-1', 'client_secret_basic', 's3cret', T)).toBeUndefined();
    const before = verified.generation;
    verified.forget('gw-1'); // e.g. a rotation committed while the old row was being verified
    verified.remember(client, 'client_secret_basic', 's3cret', before, T);
    expect(verified.lookup('gw-1', 'client_secret_basic', 's3cret', T)).toBeUndefined();
  });
});
