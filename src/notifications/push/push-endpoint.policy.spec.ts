/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import type { ResolvedAddress } from '../../common/host-allow-list';
import { HostResolver } from '../../common/host-resolver';
import type { AppConfig } from '../../config/app-config';
import { PushEndpointPolicy } from './push-endpoint.policy';

describe('push subscription endpoints', () => {
  const policy = (hosts: string[], resolver = new HostResolver()) => new PushEndpointPolicy({ PUSH_SERVICE_HOSTS: hosts } as AppConfig, resolver);

  it('a push service entry without a port allows port 443 only', () => {
    const s = policy(['fcm.googleapis.com', '*.push.apple.com']);
    expect(s.problemWith('https://fcm.googleapis.com/fcm/send/abc')).toBeUndefined();
    expect(s.problemWith('https://fcm.googleapis.com:443/fcm/send/abc')).toBeUndefined();
    expect(s.problemWith('https://fcm.googleapis.com:8080/fcm/send/abc')).toMatch(/PUSH_SERVICE_HOSTS/);
    expect(s.problemWith('https://api.push.apple.com:6379/3/device/x')).toMatch(/PUSH_SERVICE_HOSTS/);
  });

  it('an entry with a port allows that port only', () => {
    const s = policy(['127.0.0.1:8443']);
    expect(s.problemWith('https://127.0.0.1:8443/push/1')).toBeUndefined();
    expect(s.problemWith('https://127.0.0.1:9/push/1')).toMatch(/PUSH_SERVICE_HOSTS/);
  });

  it('before a send, every address the name resolves to is checked: an internal one only when the list names it', async () => {
    const dns: Record<string, ResolvedAddress[]> = {
      'fcm.googleapis.com': [{ address: '142.250.74.42', family: 4 }],
      'updates.push.services.mozilla.com': [{ address: '169.254.169.254', family: 4 }],
      'web.push.apple.com': [
        { address: '17.188.168.10', family: 4 },
        { address: 'fd00:ec2::254', family: 6 },
      ],
    };
    const resolver = new HostResolver();
    const real = resolver.resolve.bind(resolver);
    // Names from the table above; an IP literal is its own answer, as always.
    resolver.resolve = async (host) => dns[host] ?? real(host);
    const s = policy(['fcm.googleapis.com', 'updates.push.services.mozilla.com', 'web.push.apple.com', '127.0.0.1:8443'], resolver);
    await expect(s.check('https://fcm.googleapis.com/fcm/send/abc')).resolves.toEqual({ address: { address: '142.250.74.42', family: 4 } });
    await expect(s.check('https://updates.push.services.mozilla.com/wpush/v2/x')).resolves.toEqual({
      refusal: expect.stringMatching(/resolves to 169\.254\.169\.254.*PUSH_SERVICE_HOSTS/),
    });
    await expect(s.check('https://web.push.apple.com/x')).resolves.toEqual({ refusal: expect.stringMatching(/resolves to fd00:ec2::254/) });
    await expect(s.check('https://127.0.0.1:8443/push/1')).resolves.toEqual({ address: { address: '127.0.0.1', family: 4 } });
    await expect(s.check('https://evil.example/push/1')).resolves.toEqual({ refusal: expect.stringMatching(/not a known push service/) });
  });
});
