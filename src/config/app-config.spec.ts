/// <reference types="jest" />
// The build tsconfig also compiles src/** (without jest types), hence the reference above.
import { ConfigError, loadConfig } from './app-config';

/** The error lines loadConfig throws for `env`, or fails the test if it accepts it. */
function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.split('\n');
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const PRODUCTION_REQUIRED = {
  GATEWAY_JWKS_URL: 'https://idp.example/jwks.json',
  GATEWAY_ISSUER: 'https://idp.example',
  SIGNING_KEYS_FILE: '/etc/countersign/signing-keys.json',
};

describe('loadConfig', () => {
  it('applies the documented defaults in demo mode', () => {
    const config = loadConfig({ DEMO_MODE: 'true' });
    expect(config).toMatchObject({
      DEMO_MODE: true,
      PORT: 3000,
      HOST: '0.0.0.0',
      PUBLIC_URL: 'http://localhost:3000',
      REDIS_PREFIX: 'countersign',
      GATEWAY_AUDIENCE: 'countersign',
      GATEWAY_TENANT_CLAIM: 'tenant',
      APPROVAL_DEFAULT_EXPIRES_IN: 600,
      APPROVAL_MAX_EXPIRES_IN: 3600,
      APPROVAL_POLL_INTERVAL: 5,
      APPROVAL_TOKEN_TTL: 60,
      CALLBACK_ALLOWED_HOSTS: [],
      CALLBACK_ALLOW_HTTP: false,
    });
    expect(config.GATEWAY_ISSUER).toBeUndefined();
    expect(config.SIGNING_KEYS_FILE).toBeUndefined();
  });

  it('reads rate limits as "<max>/<window>" or "off", with generous defaults, and names a bad one', () => {
    expect(loadConfig({ DEMO_MODE: 'true' })).toMatchObject({
      RATE_LIMIT_GATEWAY: { max: 5000, windowMs: 1000 },
      RATE_LIMIT_CIBA_CLIENT: { max: 1000, windowMs: 1000 },
      RATE_LIMIT_APPROVER_LINK: { max: 120, windowMs: 60_000 },
    });
    expect(loadConfig({ DEMO_MODE: 'true', RATE_LIMIT_GATEWAY: '10/1m', RATE_LIMIT_CIBA_CLIENT: 'off' })).toMatchObject({
      RATE_LIMIT_GATEWAY: { max: 10, windowMs: 60_000 },
      RATE_LIMIT_CIBA_CLIENT: null,
    });
    expect(problems({ DEMO_MODE: 'true', RATE_LIMIT_APPROVER_LINK: '120 per minute' })).toEqual([
      'invalid configuration: RATE_LIMIT_APPROVER_LINK must be "<max>/<window>" (e.g. "5000/1s", "120/1m") or "off" (got "120 per minute")',
    ]);
  });

  it('reads DATABASE_PREPARED_STATEMENTS as session (the default, or true), protocol, or off (false), and names a bad one', () => {
    const mode = (value?: string) => loadConfig({ DEMO_MODE: 'true', DATABASE_PREPARED_STATEMENTS: value }).DATABASE_PREPARED_STATEMENTS;
    expect([mode(), mode('true'), mode('yes'), mode('protocol'), mode('false'), mode('0')]).toEqual([
      'session',
      'session',
      'session',
      'protocol',
      'off',
      'off',
    ]);
    expect(problems({ DEMO_MODE: 'true', DATABASE_PREPARED_STATEMENTS: 'pgbouncer' })[0]).toMatch(
      /DATABASE_PREPARED_STATEMENTS must be true, false or protocol/,
    );
  });

  it('treats an empty variable as unset, so its default applies', () => {
    expect(loadConfig({ DEMO_MODE: 'true', PORT: '', APPROVAL_TOKEN_TTL: '' })).toMatchObject({ PORT: 3000, APPROVAL_TOKEN_TTL: 60 });
  });

  it('accepts a complete production configuration', () => {
    const config = loadConfig({ ...PRODUCTION_REQUIRED, PORT: '8080', CALLBACK_ALLOWED_HOSTS: 'Hooks.Example.com, *.acme.example' });
    expect(config).toMatchObject({ DEMO_MODE: false, PORT: 8080, CALLBACK_ALLOWED_HOSTS: ['hooks.example.com', '*.acme.example'] });
  });

  it('outside demo mode, names every missing required variable on a line of its own', () => {
    const lines = problems({});
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^invalid configuration: GATEWAY_JWKS_URL .*required/);
    expect(lines[1]).toMatch(/^invalid configuration: GATEWAY_ISSUER .*required/);
    expect(lines[2]).toMatch(/^invalid configuration: SIGNING_KEYS_FILE .*required/);
  });

  it.each(Object.keys(PRODUCTION_REQUIRED))('outside demo mode, a missing %s alone gives exactly one line naming it', (name) => {
    const env: Record<string, string> = { ...PRODUCTION_REQUIRED };
    delete env[name];
    const lines = problems(env);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    expect(lines[0]).toContain('missing');
  });

  it('accepts GATEWAY_JWKS_FILE in place of GATEWAY_JWKS_URL', () => {
    const { GATEWAY_JWKS_URL: _, ...rest } = PRODUCTION_REQUIRED;
    expect(loadConfig({ ...rest, GATEWAY_JWKS_FILE: '/etc/countersign/gateway-jwks.json' }).GATEWAY_JWKS_FILE).toBe('/etc/countersign/gateway-jwks.json');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', ' '],
    ['PORT', '1e3'],
    ['PORT', '0x50'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'http://x'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'postgres://x'],
    ['APPROVAL_TOKEN_TTL', '500'],
    ['APPROVAL_TOKEN_TTL', '0'],
    ['APPROVAL_POLL_INTERVAL', '1.5'],
    ['REDIS_PREFIX', 'countersign:prod'],
    ['DEMO_MODE', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['PUBLIC_URL', 'ftp://countersign.example'],
  ])('%s=%j is refused with one line naming the variable', (name, value) => {
    const lines = problems({ DEMO_MODE: 'true', [name]: value });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${name} `));
  });

  it("reads the tenants' time zones and the decision-time skew, with UTC and 30 s by default", () => {
    expect(loadConfig({ DEMO_MODE: 'true' })).toMatchObject({ TENANT_TIME_ZONE: 'UTC', TENANT_TIME_ZONES: {}, DECISION_TIME_SKEW_SECONDS: 30 });
    expect(
      loadConfig({ DEMO_MODE: 'true', TENANT_TIME_ZONE: 'America/New_York', TENANT_TIME_ZONES: '{"acme": "Europe/Berlin"}', DECISION_TIME_SKEW_SECONDS: '5' }),
    ).toMatchObject({ TENANT_TIME_ZONE: 'America/New_York', TENANT_TIME_ZONES: { acme: 'Europe/Berlin' }, DECISION_TIME_SKEW_SECONDS: 5 });
  });

  it.each([
    ['TENANT_TIME_ZONE', 'Mars/Olympus_Mons', /must be an IANA time zone/],
    ['TENANT_TIME_ZONES', '{"acme": "Europe/Berlinn"}', /unknown time zone "Europe\/Berlinn" for tenant "acme"/],
    ['TENANT_TIME_ZONES', '["Europe/Berlin"]', /must be a JSON object/],
    ['TENANT_TIME_ZONES', '{acme: UTC}', /must be a JSON object/],
    ['DECISION_TIME_SKEW_SECONDS', '-1', /at least 0/],
  ])('%s=%j is refused, saying what is wrong', (name, value, message) => {
    const lines = problems({ DEMO_MODE: 'true', [name]: value });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${name} `));
    expect(lines[0]).toMatch(message);
  });

  it('refuses an APPROVAL_DEFAULT_EXPIRES_IN above APPROVAL_MAX_EXPIRES_IN, naming the default', () => {
    const lines = problems({ DEMO_MODE: 'true', APPROVAL_DEFAULT_EXPIRES_IN: '7200', APPROVAL_MAX_EXPIRES_IN: '3600' });
    expect(lines).toEqual([expect.stringMatching(/^invalid configuration: APPROVAL_DEFAULT_EXPIRES_IN must not exceed APPROVAL_MAX_EXPIRES_IN/)]);
  });

  it('gives one line for each of several bad variables', () => {
    const lines = problems({ DEMO_MODE: 'true', PORT: 'abc', REDIS_PREFIX: 'a:b' });
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes(' PORT '))).toBe(true);
    expect(lines.some((l) => l.includes(' REDIS_PREFIX '))).toBe(true);
  });

  it('never echoes a password from a bad URL, nor a line break from a value', () => {
    const [line] = problems({ DEMO_MODE: 'true', DATABASE_URL: 'mysql://countersign:s3cret-pw@db.internal/cs' });
    expect(line).toContain('DATABASE_URL');
    expect(line).not.toContain('s3cret-pw');
    expect(problems({ DEMO_MODE: 'true', PORT: '80\ninjected' })).toHaveLength(1);
  });
});
