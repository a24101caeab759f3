/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import { addressProblem, allowListed, isInternal, ResolvedAddress } from './host-allow-list';

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

describe('host allow-list', () => {
  it.each([
    [['hooks.example.com'], 'https://hooks.example.com/cb', true],
    [['hooks.example.com'], 'https://hooks.example.com:8443/cb', true],
    [['hooks.example.com:8443'], 'https://hooks.example.com/cb', false],
    [['*.example.com'], 'https://a.example.com/cb', true],
    [['*.example.com'], 'https://example.com/cb', false],
    [['127.0.0.1'], 'http://127.0.0.1:9999/cb', true],
    [['[::1]'], 'http://[::1]:9999/cb', true],
    [['10.1.0.0/16'], 'https://10.1.2.3/cb', true],
    [['10.1.0.0/16'], 'https://10.2.0.1/cb', false],
  ])('%j allows %s: %s', (entries, url, allowed) => {
    expect(allowListed(entries, new URL(url))).toBe(allowed);
  });

  it.each([
    [['fcm.googleapis.com'], 'https://fcm.googleapis.com/send/x', true],
    [['fcm.googleapis.com'], 'https://fcm.googleapis.com:8443/send/x', false],
    [['fcm.googleapis.com'], 'https://fcm.googleapis.com:443/send/x', true],
    [['*.push.apple.com'], 'https://api.push.apple.com:22/x', false],
    [['127.0.0.1:8443'], 'https://127.0.0.1:8443/push/1', true],
    [['127.0.0.1:8443'], 'https://127.0.0.1:9/push/1', false],
  ])('with portlessMeansDefaultPort, %j allows %s: %s', (entries, url, allowed) => {
    expect(allowListed(entries, new URL(url), { portlessMeansDefaultPort: true })).toBe(allowed);
  });

  it.each([
    '10.0.0.5',
    '127.0.0.1',
    '169.254.169.254',
    '172.31.255.1',
    '192.168.1.1',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
  ])('%s is internal', (address) => {
    expect(isInternal(address)).toBe(true);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::6810:84e5', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isInternal(address)).toBe(false);
  });

  it('refuses a name on the list that resolves to an internal address, unless the list names that address', () => {
    const url = new URL('https://hooks.example.com/cb');
    expect(addressProblem(['hooks.example.com'], url, [v4('93.184.215.14')])).toBeUndefined();
    expect(addressProblem(['hooks.example.com'], url, [v4('10.0.0.5')])).toMatch(/resolves to 10\.0\.0\.5/);
    expect(addressProblem(['hooks.example.com'], url, [v4('169.254.169.254')])).toMatch(/169\.254\.169\.254/);
    expect(addressProblem(['hooks.example.com'], url, [v6('::1')])).toMatch(/::1/);
    // Every answer counts: one public address does not excuse an internal one.
    expect(addressProblem(['hooks.example.com'], url, [v4('93.184.215.14'), v4('127.0.0.1')])).toMatch(/127\.0\.0\.1/);
    expect(addressProblem(['hooks.example.com'], url, [])).toMatch(/no address/);

    expect(addressProblem(['hooks.example.com', '10.0.0.5'], url, [v4('10.0.0.5')])).toBeUndefined();
    expect(addressProblem(['hooks.example.com', '10.0.0.0/8'], url, [v4('10.0.0.5')])).toBeUndefined();
    expect(addressProblem(['hooks.example.com', '10.0.0.5:8443'], url, [v4('10.0.0.5')])).toMatch(/10\.0\.0\.5/);
    expect(addressProblem(['hooks.example.com', '[::1]'], url, [v6('::1'), v4('127.0.0.1')])).toMatch(/127\.0\.0\.1/);
  });
});
