import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { PAGE_CSS_PATH, PAGE_JS_PATH } from '../../src/notifications/page/page.assets';
import { call } from '../support/api';
import { freePort, REDIS_URL } from '../support/app';
import { eventually } from '../support/callback-server';
import { databaseUrl, PG_ADMIN_URL, templateDb } from '../support/database';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

/**
 * The Dockerfile's runtime stage without Docker: `npm ci --omit=dev --ignore-scripts` of the
 * committed package.json and lockfile in an empty directory outside the checkout (so nothing of
 * the checkout's node_modules can be resolved), the built dist/ copied in, and the image's entry
 * commands run from there exactly as the image runs them: migrate a fresh database, start the API
 * (it answers /health/live and /health/ready, parks a call), start the worker (it delivers the
 * approver's email), and both stop cleanly on SIGTERM. A production module that imports
 * a dev dependency fails here with "Cannot find module".
 *
 * The install downloads from the registry (≈ 25 s here, warm or cold npm cache).
 */
describe('the image runtime: production dependencies only', () => {
  let dir: string;
  let dbName: string;
  let dbUrl: string;
  let redisPrefix: string;
  const children: ChildProcess[] = [];

  async function admin(sql: string): Promise<void> {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  }

  /** The variables a compose service would set (demo mode, as docker-compose.yml runs it). */
  function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: dir,
      NODE_ENV: 'production',
      DEMO_MODE: 'true',
      KEYS_DIR: join(dir, '.keys'),
      LOG_LEVEL: 'log',
      DATABASE_URL: dbUrl,
      DATABASE_MIGRATE_ON_START: 'false',
      DATABASE_POOL_SIZE: '4',
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      RUN_WORKERS: 'false',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...extra,
    };
  }

  function start(script: string, vars: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
    let out = '';
    const child = spawn(process.execPath, [script], { cwd: dir, env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    children.push(child);
    return { child, output: () => out };
  }

  function exitOf(child: ChildProcess, ms: number): Promise<number | string | null> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no exit within ${ms} ms`)), ms);
      child.once('exit', (code, signal) => {
        clearTimeout(t);
        resolve(code ?? signal);
      });
    });
  }

  function running(child: ChildProcess, output: () => string): void {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode}: ${output()}`);
  }

  beforeAll(async () => {
    // Build exactly what the image's build stage builds (npm run build = tsc, then the page's assets copied into dist).
    await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT });
    await run(process.execPath, [join(ROOT, 'scripts/copy-assets.js')], { cwd: ROOT });

    dir = mkdtempSync(join(tmpdir(), 'countersign-image-'));
    // Node resolves bare imports in every parent's node_modules: none may exist above the directory.
    for (let d = dirname(dir); ; d = dirname(d)) {
      expect(existsSync(join(d, 'node_modules'))).toBe(false);
      if (d === dirname(d)) break;
    }
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
    const t0 = Date.now();
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' },
      maxBuffer: 16 * 1024 * 1024,
    });
    process.stderr.write(`image runtime: npm ci --omit=dev took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    // As the Dockerfile does: all of dist/ but the benchmarks and the build's bookkeeping.
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), {
      recursive: true,
      filter: (src) => !src.startsWith(join(ROOT, 'dist', 'bench')) && !src.endsWith('.tsbuildinfo'),
    });

    dbName = `${templateDb()}_image_${randomBytes(3).toString('hex')}`;
    await admin(`CREATE DATABASE ${dbName}`);
    dbUrl = databaseUrl(dbName);
    redisPrefix = `cstest-image-${randomBytes(4).toString('hex')}`;
  }, 240_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dbName) await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    if (redisPrefix) {
      const redis = new Redis(REDIS_URL);
      try {
        for (const pattern of [`${redisPrefix}:*`, `${redisPrefix}-bull:*`]) {
          const keys = await redis.keys(pattern);
          if (keys.length) await redis.del(...keys);
        }
      } finally {
        redis.disconnect();
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the production dependencies and none of the dev dependencies', () => {
    const installed = new Set(readdirSync(join(dir, 'node_modules')));
    // (typescript is there: an optional peer of @nestjs/swagger and valibot, so npm keeps it under --omit=dev.)
    for (const dev of ['jest', '@swc', '@types', 'mailparser', 'smtp-server', 'playwright-core', 'autocannon']) {
      expect(installed.has(dev)).toBe(false);
    }
    for (const prod of ['@nestjs', 'typeorm', 'bullmq', 'pg', 'jose', 'ioredis', 'nodemailer', 'web-push']) {
      expect(installed.has(prod)).toBe(true);
    }
  });

  it('migrates a fresh database (node dist/src/cli/migrate.js), and a second run has nothing to do', async () => {
    const first = await run(process.execPath, ['dist/src/cli/migrate.js'], { cwd: dir, env: env() });
    expect(first.stdout).toMatch(/^applied: /);
    const again = await run(process.execPath, ['dist/src/cli/migrate.js'], { cwd: dir, env: env() });
    expect(again.stdout).toBe('schema is up to date\n');
  }, 60_000);

  it('runs the API (node dist/src/main.js) and the worker (node dist/src/worker.js); both stop on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = start('dist/src/main.js', env({ PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: base }));
    await eventually(async () => {
      running(api.child, api.output);
      return api.output().includes('Countersign listening');
    }, 30_000);

    expect((await call(base, 'GET', '/health/live')).status).toBe(200);
    const ready = await call(base, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' }, migrations: { status: 'up' } });
    expect((await call(base, 'GET', '/docs/json')).status).toBe(200);
    // The approval page's CSS and browser JS are files the build copied into dist (there is no src/ here).
    expect(existsSync(join(dir, 'src'))).toBe(false);
    for (const [path, file] of [
      [PAGE_CSS_PATH, 'page.css'],
      [PAGE_JS_PATH, 'page.js'],
      ['/sw.js', 'sw.js'],
    ]) {
      const asset = await fetch(base + path);
      expect(asset.status).toBe(200);
      expect(await asset.text()).toBe(readFileSync(join(ROOT, 'src/notifications/page/assets', file), 'utf8'));
    }

    // The README tour's first step, with the image's token command (docker compose exec api node dist/src/cli/mint-gateway-token.js …).
    const minted = await run(process.execPath, ['dist/src/cli/mint-gateway-token.js', '--tenant', 'acme'], { cwd: dir, env: env() });
    const token = minted.stdout.trim();
    const parked = await call(base, 'POST', '/v1/approvals', {
      token,
      body: {
        tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR' } },
        agent: { id: 'spiffe://acme.example/agents/payment-agent', class: 'payment-agent' },
        delegator: { id: 'alice' },
        reason: 'Invoice INV-42 is due today',
        obligation: { approvers: ['user:bob'], binding_message: 'Pay 25,000 EUR to ACME GmbH' },
      },
    });
    expect(parked.status).toBe(200);
    expect(parked.body.auth_req_id).toEqual(expect.any(String));

    // The API runs no workers (RUN_WORKERS=false): the worker process sends bob's email (logged in demo mode).
    const worker = start('dist/src/worker.js', env());
    await eventually(async () => {
      running(worker.child, worker.output);
      return worker.output().includes('Countersign worker running') && worker.output().includes('email to bob');
    }, 30_000);

    // Nest closes everything, then re-raises the signal: a clean end is death by SIGTERM (143 under
    // Docker), not the shutdown bound's exit(1).
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker.child, 20_000)).toBe('SIGTERM');
    api.child.kill('SIGTERM');
    expect(await exitOf(api.child, 20_000)).toBe('SIGTERM');
    expect(api.output() + worker.output()).not.toContain('SHUTDOWN_TIMEOUT_MS');
    for (const out of [api.output(), worker.output()]) expect(out).not.toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  }, 120_000);
});

/** The Docker files describe what the runtime test above runs (Docker has no engine here to build them). */
describe('Dockerfile and docker-compose.yml', () => {
  const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

  it('the runtime stage installs production dependencies only, runs as a non-root user, checks /health/live, bakes in no keys', () => {
    const dockerfile = read('Dockerfile');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(dockerfile).toContain('npm ci --omit=dev --ignore-scripts');
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/health\/live/m);
    expect(runtime).toContain('CMD ["node", "dist/src/main.js"]');
    // From the build context the runtime takes the manifests only; everything else comes from the other stages.
    for (const line of runtime.split('\n').filter((l) => /^(COPY|ADD) /.test(l)))
      expect(line).toMatch(/^COPY (--from=|package\.json package-lock\.json \.\/$)/);
    expect(dockerfile).not.toMatch(/SIGNING_KEYS_FILE=|VAPID_PRIVATE_KEY=|DEMO_MODE=true/);
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.keys', '.git', '.env', 'test']) expect(ignored).toContain(p);
  });

  it('compose runs the image for migrate, API and worker, without source mounts or installs at start', () => {
    const compose = read('docker-compose.yml');
    for (const cmd of ['dist/src/cli/migrate.js', 'dist/src/main.js', 'dist/src/worker.js']) expect(compose).toContain(`["node", "${cmd}"]`);
    expect(compose).toMatch(/condition: service_completed_successfully/);
    expect(compose).not.toMatch(/^\s*-\s*\.\.?\//m);
    expect(compose).not.toMatch(/\bnpm (ci|install|run)\b/);
  });

  it('compose runs the demo from the same image: the sample MCP servers, the gateway and the agent, each an entry point of the build', () => {
    const compose = read('docker-compose.yml');
    const commands = [
      '["node", "dist/src/demo/sample-upstream.js"]',
      '["node", "dist/src/demo/compose.js", "gateway"]',
      '["node", "dist/src/demo/compose.js", "agent"]',
    ];
    for (const cmd of commands) expect(compose).toContain(`command: ${cmd}`);
    for (const file of ['src/demo/sample-upstream.ts', 'src/demo/compose.ts']) expect(existsSync(join(ROOT, file))).toBe(true);
  });

  const compose = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
  (compose ? it : it.skip)('docker-compose config accepts the file (Debian docker-compose v1, no engine needed)', async () => {
    await run(compose!, ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT });
  });
});
