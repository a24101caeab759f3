import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayConfigError, gatewayConfigSchema, loadGatewayConfig, parseGatewayConfig } from './gateway-config';

// A JWT-shaped token (unsigned: the gateway only reads who it names; Countersign verifies it).
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const TOKEN = `${b64({ alg: 'ES256' })}.${b64({ sub: 'gateway-7', tenant: 'acme' })}.c2ln`;
const VALID = {
  countersign: { url: 'http://127.0.0.1:3000', token: TOKEN },
  upstreams: [
    { name: 'payments', url: 'http://127.0.0.1:4000/mcp', tools: { transfer_funds: { resource: { id_argument: 'to', classification: 'confidential' } } } },
  ],
};

function problems(input: unknown): { field: string; message: string }[] {
  try {
    parseGatewayConfig(input);
  } catch (e) {
    if (e instanceof GatewayConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected the configuration to be refused');
}

describe('gateway configuration', () => {
  it('fills in the documented defaults', () => {
    const config = parseGatewayConfig(VALID);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8787 });
    expect(config.approval).toEqual({ wait_seconds: 45, progress_interval_seconds: 5 });
    expect(config.agent_audiences).toEqual(['countersign']);
    expect(config.countersign.timeout_ms).toBe(10_000);
    expect(config.upstreams[0].tools.transfer_funds.resource).toEqual({ id_argument: 'to', classification: 'confidential' });
    expect(config.state).toEqual({ key_prefix: 'countersign-gateway' });
    expect(config.hide_denied_tools).toBe(false);
    expect(config.hide_denied_tools_cache_seconds).toBe(30);
  });

  it('shares state in Redis only with a redis:// URL, a plain key prefix, and agent tokens the gateway verifies itself', () => {
    const issuers = [{ issuer: 'https://agents.example', jwks_uri: 'https://agents.example/jwks' }];
    expect(parseGatewayConfig({ ...VALID, agent_issuers: issuers, state: { redis_url: 'redis://127.0.0.1:6379/2', key_prefix: 'gw-eu:1' } }).state).toEqual({
      redis_url: 'redis://127.0.0.1:6379/2',
      key_prefix: 'gw-eu:1',
    });
    expect(
      problems({ ...VALID, agent_issuers: issuers, state: { redis_url: 'http://127.0.0.1:6379', key_prefix: 'a b' } })
        .map((p) => p.field)
        .sort(),
    ).toEqual(['state.key_prefix', 'state.redis_url']);
    expect(problems({ ...VALID, state: { redis_url: 'redis://127.0.0.1:6379' } })).toEqual([
      { field: 'state.redis_url', message: expect.stringContaining('needs agent_issuers') },
    ]);
  });

  it('names every bad field at once', () => {
    const found = problems({
      countersign: { url: 'ftp://x', token: TOKEN },
      upstreams: [{ name: 'pay__ments', url: 'not a url', tools: { t: { resource: { classification: 'secret' } } } }],
      approval: { wait_seconds: -1 },
      extra: true,
    });
    expect(found.map((p) => p.field).sort()).toEqual(
      ['(root)', 'approval.wait_seconds', 'countersign.url', 'upstreams.0.name', 'upstreams.0.tools.t.resource.classification', 'upstreams.0.url'].sort(),
    );
    expect(found.find((p) => p.field === 'upstreams.0.name')!.message).toContain('no "__"');
    // "a_" would make "a___tool", which splits as server "a".
    for (const name of ['a_', '_a', 'a__b', 'a/b', ''])
      expect(problems({ ...VALID, upstreams: [{ ...VALID.upstreams[0], name }] })[0].field).toBe('upstreams.0.name');
    expect(parseGatewayConfig({ ...VALID, upstreams: [{ ...VALID.upstreams[0], name: 'my_server.v2-eu' }] }).upstreams[0].name).toBe('my_server.v2-eu');
  });

  it('requires exactly one of token and token_file, and a token that names the gateway', () => {
    expect(problems({ ...VALID, countersign: { url: 'http://x' } })).toEqual([
      { field: 'countersign.token', message: 'give token or token_file (exactly one)' },
    ]);
    expect(problems({ ...VALID, countersign: { url: 'http://x', token: 'opaque' } })[0].field).toBe('countersign.token');
    expect(parseGatewayConfig({ ...VALID, countersign: { url: 'http://x', token: 'opaque', gateway_id: 'gw' } }).countersign.gateway_id).toBe('gw');
  });

  it('takes a stdio upstream (command) or a Streamable HTTP one (url), exactly one', () => {
    const stdio = parseGatewayConfig({ ...VALID, upstreams: [{ name: 'local', command: 'node', args: ['server.js'] }] }).upstreams[0];
    expect(stdio).toMatchObject({ command: 'node', args: ['server.js'], env: {} });
    expect(problems({ ...VALID, upstreams: [{ name: 'x' }] })).toEqual([
      { field: 'upstreams.0.url', message: 'give url (Streamable HTTP) or command (stdio), exactly one' },
    ]);
    expect(problems({ ...VALID, upstreams: [{ name: 'x', url: 'http://a/mcp', command: 'node' }] })[0].field).toBe('upstreams.0.url');
  });

  it('takes agent issuers with exactly one of jwks_uri and jwks_file', () => {
    expect(parseGatewayConfig({ ...VALID, agent_issuers: [{ issuer: 'https://idp', jwks_uri: 'https://idp/jwks' }] }).agent_issuers).toHaveLength(1);
    expect(problems({ ...VALID, agent_issuers: [{ issuer: 'https://idp' }] })).toEqual([
      { field: 'agent_issuers.0.jwks_uri', message: 'give jwks_uri or jwks_file (exactly one)' },
    ]);
  });

  it('refuses no upstreams, a server named twice, and id with id_argument', () => {
    expect(problems({ ...VALID, upstreams: [] })).toEqual([{ field: 'upstreams', message: 'must name at least one upstream MCP server' }]);
    expect(problems({ ...VALID, upstreams: [VALID.upstreams[0], VALID.upstreams[0]] })[0]).toEqual({
      field: 'upstreams',
      message: 'must not name a server twice',
    });
    const both = { ...VALID.upstreams[0], tools: { t: { resource: { id: 'a', id_argument: 'b' } } } };
    expect(problems({ ...VALID, upstreams: [both] })[0].field).toBe('upstreams.0.tools.t.resource');
  });

  it('reads a file, and says which when it is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ ...VALID, countersign: { url: 'http://x', token_file: tokenFile } }));
    expect(loadGatewayConfig(join(dir, 'ok.json')).countersign.token).toBe(TOKEN);
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadGatewayConfig(join(dir, 'bad.json'))).toThrow(/GATEWAY_CONFIG: .*bad\.json is not JSON/);
    expect(() => loadGatewayConfig(join(dir, 'missing.json'))).toThrow(/GATEWAY_CONFIG: cannot read .*ENOENT/);
    writeFileSync(join(dir, 'nofile.json'), JSON.stringify({ ...VALID, countersign: { url: 'http://x', token_file: join(dir, 'none') } }));
    expect(() => loadGatewayConfig(join(dir, 'nofile.json'))).toThrow(/countersign\.token_file: cannot be read \(ENOENT\)/);
  });
});

describe('gateway.example.json', () => {
  it('is a valid configuration (its token files aside, which a deployment creates)', () => {
    const example = JSON.parse(readFileSync(join(__dirname, '..', '..', 'gateway.example.json'), 'utf8'));
    const parsed = gatewayConfigSchema.safeParse(example);
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  });
});

describe('tool_names', () => {
  const base = {
    countersign: { url: 'http://127.0.0.1:3000', token: 'x', gateway_id: 'gw' },
    upstreams: [
      { name: 'a', url: 'http://127.0.0.1:4000/mcp', tools: { search: { environment: 'dev' } } },
      { name: 'b', url: 'http://127.0.0.1:4001/mcp', tools: { search: { environment: 'production' } } },
    ],
  };

  it('defaults to namespaced, where two upstreams may configure the same tool name', () => {
    expect(parseGatewayConfig(base).tool_names).toBe('namespaced');
  });

  it('plain: refuses, naming the field, hints for one tool name under two upstreams', () => {
    expect(() => parseGatewayConfig({ ...base, tool_names: 'plain' })).toThrow(/upstreams\.1\.tools\.search: is also configured for a/);
    expect(() => parseGatewayConfig({ ...base, tool_names: 'short' })).toThrow(/tool_names:/);
  });
});
