import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REDIS_URL, testEnvironment, TestEnvironment } from '../support/app';
import { prepareTestKeys, TEST_AGENT_ISSUER, TEST_GATEWAY_AUDIENCE, TEST_GATEWAY_ISSUER } from '../support/keys';

const ROOT = join(__dirname, '..', '..');

/** Runs the built service with exactly `env` (plus PATH) and collects how it ended. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main.js did not exit; stdout: ${stdout} stderr: ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
}, 180_000);

describe('start-up with a bad configuration', () => {
  it('exits with code 1 and one line on stderr naming the bad variable (PORT=abc)', async () => {
    const { code, stdout, stderr } = await runMain({ DEMO_MODE: 'true', PORT: 'abc' });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^[^\n]*\n$/);
    expect(stderr).toMatch(/^invalid configuration: PORT must be an integer \(got "abc"\)\n$/);
  });
});

/**
 * Starts the built API (or worker) through the real bootstrap, then dies the way a V8 fatal error
 * dies: %Abort traps (SIGTRAP). With a JS handler on the crash signals the trap returns into the
 * trapping instruction forever; the process must instead end, so that its supervisor restarts it.
 */
function crashAfterStart(kind: 'api' | 'worker', env: Record<string, string>): Promise<{ signal: NodeJS.Signals | null; code: number | null; output: string }> {
  const script = `
    require('reflect-metadata');
    const b = require(${JSON.stringify(join(ROOT, 'dist/src/bootstrap.js'))});
    (async () => {
      const config = await b.resolveConfig();
      if (${JSON.stringify(kind)} === 'api') await (await b.createApiApp(config)).listen({ port: 0, host: '127.0.0.1' });
      else await b.createWorkerContext({ ...config, RUN_WORKERS: true });
      process.stdout.write('started\\n');
      setTimeout(() => {
        require('node:fs').writeSync(1, 'crashing\\n');
        new Function('%Abort("simulated V8 fatal error")')();
      }, 50);
    })();
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--allow-natives-syntax', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let crashTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      output += d;
      // Once started, a crashed process has 5 s to be gone (it takes milliseconds when it does end).
      if (!crashTimer && output.includes('started')) {
        crashTimer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the ${kind} process was still alive 5 s after a fatal error: ${output}`));
        }, 5000);
      }
    });
    child.stderr.on('data', (d) => (output += d));
    const startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${kind} process neither started nor crashed: ${output}`));
    }, 30_000);
    // 'close', not 'exit': the fatal error's message may still be in the stderr pipe at exit.
    child.on('close', (code, signal) => {
      clearTimeout(startTimer);
      clearTimeout(crashTimer);
      resolve({ code, signal, output });
    });
  });
}

describe('a fatal error in the running service', () => {
  let env: TestEnvironment;
  let vars: Record<string, string>;

  beforeAll(async () => {
    env = await testEnvironment();
    const keys = await prepareTestKeys();
    vars = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      DATABASE_URL: env.db.url,
      DATABASE_POOL_SIZE: '2',
      DATABASE_MIGRATE_ON_START: 'false',
      REDIS_URL,
      REDIS_PREFIX: env.redisPrefix,
      SIGNING_KEYS_FILE: keys.signingKeysFile,
      GATEWAY_JWKS_FILE: keys.gatewayJwksFile,
      GATEWAY_ISSUER: TEST_GATEWAY_ISSUER,
      GATEWAY_AUDIENCE: TEST_GATEWAY_AUDIENCE,
      AGENT_ISSUERS: JSON.stringify([{ issuer: TEST_AGENT_ISSUER, jwks_file: keys.gatewayJwksFile }]),
    };
  }, 60_000);

  afterAll(() => env.teardown());

  it.each(['api', 'worker'] as const)(
    'ends the %s process (killed by the crash signal) instead of leaving it spinning with its port open',
    async (kind) => {
      const { signal, code, output } = await crashAfterStart(kind, vars);
      // SIGTRAP from the trap itself, or SIGSEGV when V8's own crash reporting faults on the way down.
      expect({ code, signal, output }).toEqual({
        code: null,
        signal: expect.stringMatching(/^SIG(TRAP|SEGV)$/),
        output: expect.stringMatching(/started\ncrashing\n/),
      });
    },
    60_000,
  );
});
