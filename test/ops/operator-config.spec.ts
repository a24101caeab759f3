import { ConfigError, DEMO_OPERATOR_SUBJECT, loadConfig } from '../../src/config/app-config';

const PRODUCTION = { GATEWAY_JWKS_FILE: 'jwks.json', GATEWAY_ISSUER: 'https://idp.example', SIGNING_KEYS_FILE: 'keys.json' };

describe('OPERATOR_SUBJECTS', () => {
  it('grants nobody by default', () => {
    expect(loadConfig(PRODUCTION).OPERATOR_SUBJECTS).toEqual([]);
  });

  it('reads exact, case-sensitive subjects from a comma-separated list', () => {
    expect(loadConfig({ ...PRODUCTION, OPERATOR_SUBJECTS: ' Prometheus , oncall@ops ,' }).OPERATOR_SUBJECTS).toEqual(['Prometheus', 'oncall@ops']);
  });

  it.each([
    ['*', 'wildcards are not allowed'],
    ['ops-*', 'wildcards are not allowed'],
    ['on call', 'printable, no spaces'],
  ])('refuses to start with %j, naming the variable', (value, problem) => {
    expect(() => loadConfig({ ...PRODUCTION, OPERATOR_SUBJECTS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...PRODUCTION, OPERATOR_SUBJECTS: value })).toThrow(new RegExp(`^invalid configuration: OPERATOR_SUBJECTS .*${problem}`));
  });

  it('in demo mode with the development issuer, the demo operator (npm run token -- --operator) is one unless set', () => {
    expect(loadConfig({ DEMO_MODE: 'true' }).OPERATOR_SUBJECTS).toEqual([DEMO_OPERATOR_SUBJECT]);
    expect(loadConfig({ DEMO_MODE: 'true', OPERATOR_SUBJECTS: 'ops' }).OPERATOR_SUBJECTS).toEqual(['ops']);
    // With a real issuer, that issuer's "dev-operator" is nobody special.
    expect(loadConfig({ DEMO_MODE: 'true', GATEWAY_ISSUER: 'https://idp.example' }).OPERATOR_SUBJECTS).toEqual([]);
  });
});
