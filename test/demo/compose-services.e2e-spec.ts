/**
 * The demo's compose services without Docker: the commands docker-compose.yml gives the `upstream`,
 * `gateway` and `agent` containers (dist/src/demo/sample-upstream.js, compose.js gateway|agent), each
 * its own process, beside the service in demo mode (dist/src/main.js) sharing one KEYS_DIR as the
 * `keys` volume. The gateway sets up the tenant and comes up; the agent makes its three calls; this
 * time alice denies the payment through her e-mailed link, and the agent reports the denial with
 * her reason while the payments server never receives the call.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalEmail, decideThroughLink } from '../../src/demo/approver-link';
import { freePort, REDIS_URL, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';

const ROOT = join(__dirname, '..', '..');

interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output matches. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function start(script: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (pattern, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            clearInterval(timer);
            clearTimeout(limit);
            resolve(m);
          }
        };
        const timer = setInterval(check, 100);
        const limit = setTimeout(() => {
          clearInterval(timer);
          reject(new Error(`${script} ${args.join(' ')}: no ${pattern} within ${ms} ms; output:\n${out}`));
        }, ms);
        check();
      }),
  };
}

describe('the demo as compose runs it: upstream, gateway and agent processes beside the service', () => {
  let env: TestEnvironment;
  let keysDir: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    env = await testEnvironment({ directory: false });
    keysDir = mkdtempSync(join(tmpdir(), 'demo-compose-keys-'));
  }, 180_000);
  afterAll(async () => {
    const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
    for (const p of procs.reverse().filter(running)) {
      p.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([p.exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (running(p)) p.child.kill('SIGKILL');
    }
    await env?.teardown();
    rmSync(keysDir, { recursive: true, force: true });
  }, 60_000);

  it('the agent runs through the gateway; a payment the approver denies is reported with her reason and never reaches the upstream', async () => {
    const [port, gatewayPort, upstreamPort] = [await freePort(), await freePort(), await freePort()];
    const api = `http://127.0.0.1:${port}`;
    const service = start('dist/src/main.js', [], {
      DEMO_MODE: 'true',
      PORT: String(port),
      PUBLIC_URL: api,
      DATABASE_URL: env.db.url,
      DATABASE_MIGRATE_ON_START: 'false',
      REDIS_URL,
      REDIS_PREFIX: env.redisPrefix,
      KEYS_DIR: keysDir,
    });
    const upstream = start('dist/src/demo/sample-upstream.js', [], { UPSTREAM_PORT: String(upstreamPort) });
    procs.push(service, upstream);
    const gateway = start('dist/src/demo/compose.js', ['gateway'], {
      KEYS_DIR: keysDir,
      COUNTERSIGN_URL: api,
      PUBLIC_URL: api,
      UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}`,
      GATEWAY_PORT: String(gatewayPort),
      // The agent's name for the gateway (compose's default is http://gateway:8787/mcp): the one Host it answers besides its public URL's.
      GATEWAY_URL: `http://127.0.0.1:${gatewayPort}/mcp`,
    });
    procs.push(gateway);
    // The gateway waits for the API and the sample servers itself, as it must under compose.
    await gateway.waitFor(/Countersign MCP gateway listening on http:\/\/localhost:\d+\/mcp/);
    expect(gateway.output()).toContain('demo tenant acme: alice delegated to finance-assistant; demo policy set active');

    const agent = start('dist/src/demo/compose.js', ['agent'], { KEYS_DIR: keysDir, GATEWAY_URL: `http://127.0.0.1:${gatewayPort}/mcp` });
    procs.push(agent);
    const [, id] = await agent.waitFor(/Awaiting approval by delegator, group:finance \(auth_req_id ([\w-]+)/);
    const [line] = await service.waitFor(new RegExp(`^.*email to alice@acme\\.example.*/approve/${id.replace(/[-]/g, '\\-')}\\?link=.*$`, 'm'));
    const mail = approvalEmail(line)!;
    expect(mail.to).toBe('alice@acme.example');
    expect(await decideThroughLink(mail.link, 'deny', 'We do not pay INV-42 before the goods arrive')).toMatch(/denied/i);

    expect(await agent.exited).toBe(0);
    const out = agent.output();
    expect(out).toMatch(/step 1 .*\n {2}call .*\n {2}reason .*\n {2}ALLOWED; result:\n {6}ACME GmbH \(cus_1042\)/);
    expect(out).toMatch(/DENIED {2}reasons: .*not_delegated/);
    expect(out).toMatch(
      /NOT APPROVED \(denied\)\n {6}The call was not approved \(denied, auth_req_id [\w-]+\).*Approvers' reasons: alice: We do not pay INV-42 before the goods arrive\. It was not sent\./,
    );
    expect(out).toContain('summary  step 1 allowed · step 2 denied · step 3 not approved');
    // The sample servers received the lookup only.
    expect(
      upstream
        .output()
        .split('\n')
        .filter((l) => l.startsWith('received ')),
    ).toEqual(['received crm/lookup_customer {"query":"ACME GmbH"}']);
    // The gateway registered the sample servers' tools, with their input schemas, in tenant acme's catalogue.
    const catalogued = await sql(env.db.url, `SELECT server || '/' || name AS tool, input_schema FROM catalogue_tools WHERE tenant_id = 'acme' ORDER BY 1`);
    expect(catalogued.map((r) => r.tool)).toEqual([
      'calendar/create_event',
      'calendar/list_events',
      'crm/lookup_customer',
      'files/read_file',
      'files/share_file',
      'payments/transfer_funds',
    ]);
    expect(catalogued.find((r) => r.tool === 'payments/transfer_funds')!.input_schema).toMatchObject({
      properties: { amount: { type: 'number' }, to: { type: 'object', required: ['iban'] } },
      required: ['amount', 'currency', 'to'],
    });
  }, 150_000);
});
