/**
 * The gateway as its own process (dist/src/gateway/main.js, what `npm run start:gateway` runs):
 * a missing or bad configuration exits 1 naming each bad field before anything listens; a good
 * one listens, serves its protected-resource metadata, and exits 0 on SIGTERM.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/app';
import { tenantToken } from '../support/api';

const ROOT = join(__dirname, '..', '..');

function runGateway(env: Record<string, string>, until?: (stdout: string) => boolean) {
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/gateway/main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not exit; stdout: ${stdout} stderr: ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => until?.(stdout) && resolve(stdout));
    void exited.then((r) => reject(new Error(`exited ${r.code}: ${r.stderr}`)), reject);
  });
  ready.catch(() => undefined); // awaited only by the cases that start it for good
  return { child, exited, ready };
}

describe('npm run start:gateway', () => {
  let dir: string;
  beforeAll(() => {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'gateway-process-'));
  }, 120_000);

  it('exits 1 without GATEWAY_CONFIG, saying what to set', async () => {
    const { code, stderr } = await runGateway({}).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('GATEWAY_CONFIG: must name');
  });

  it('exits 1 on a bad configuration, one line per bad field', async () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, JSON.stringify({ countersign: { url: 'nope' }, upstreams: [{ name: 'a__b', url: 'http://127.0.0.1:1/mcp' }] }));
    const { code, stderr, stdout } = await runGateway({ GATEWAY_CONFIG: path }).exited;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^ {2}countersign\.url: must be an http\(s\) URL$/m);
    expect(stderr).toMatch(/^ {2}countersign\.token: give token or token_file \(exactly one\)$/m);
    expect(stderr).toMatch(/^ {2}upstreams\.0\.name: must be 1-64/m);
  });

  it('exits 1 when the Redis of state.redis_url cannot be reached, naming the field', async () => {
    const path = join(dir, 'no-redis.json');
    writeFileSync(
      path,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        countersign: { url: 'http://127.0.0.1:1', token: await tenantToken('acme', 'gateway-proc') },
        agent_issuers: [{ issuer: 'https://agents.example', jwks_uri: 'https://agents.example/jwks' }],
        upstreams: [{ name: 'files', url: 'http://127.0.0.1:1/mcp' }],
        state: { redis_url: `redis://127.0.0.1:${await freePort()}` },
        log_level: 'silent',
      }),
    );
    const { code, stderr, stdout } = await runGateway({ GATEWAY_CONFIG: path }).exited;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^ {2}state\.redis_url: Redis cannot be reached \(ECONNREFUSED\)$/m);
  });

  it('listens with a good configuration, serves its metadata, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const path = join(dir, 'good.json');
    writeFileSync(
      path,
      JSON.stringify({
        listen: { host: '127.0.0.1', port },
        countersign: { url: 'http://127.0.0.1:1', token: await tenantToken('acme', 'gateway-proc') },
        upstreams: [{ name: 'files', url: 'http://127.0.0.1:1/mcp' }],
        log_level: 'silent',
      }),
    );
    const run = runGateway({ GATEWAY_CONFIG: path }, (out) => out.includes('listening'));
    expect(await run.ready).toContain(`Countersign MCP gateway listening on http://127.0.0.1:${port}/mcp`);
    const metadata = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource`);
    expect(((await metadata.json()) as { resource: string }).resource).toBe(`http://127.0.0.1:${port}/mcp`);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
