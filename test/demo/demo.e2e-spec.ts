/**
 * `npm run demo -- --auto-approve`, unattended, as its own process tree (dist/src/demo/run-demo.js,
 * what `npm run demo` runs after the set-up) against this test's database and Redis prefix, on free
 * ports: the service in demo mode, the gateway and the sample MCP servers start, the scripted agent
 * makes its three calls, and bob approves the payment by opening his e-mailed link and posting the
 * page's form. Its output is checked step by step, and the database says what really happened.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STARTER_POLICIES } from '../../src/authz/policy/starter-policies';
import { freePort, REDIS_URL, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';

const ROOT = join(__dirname, '..', '..');
const PAYMENT = { amount: 25000, currency: 'EUR', to: { iban: 'DE89370400440532013000', name: 'ACME GmbH' }, memo: 'INV-42' };

describe('npm run demo -- --auto-approve', () => {
  let env: TestEnvironment;
  let run: { code: number | null; stdout: string; stderr: string; ms: number };
  let publicUrl: string;
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    dirs.push(mkdtempSync(join(tmpdir(), prefix)));
    return dirs[dirs.length - 1];
  };

  beforeAll(async () => {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    env = await testEnvironment({ directory: false });
    const [port, gatewayPort, upstreamPort] = [await freePort(), await freePort(), await freePort()];
    publicUrl = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/demo/run-demo.js'), '--auto-approve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: env.db.url,
        DATABASE_MIGRATE_ON_START: 'false',
        REDIS_URL,
        REDIS_PREFIX: env.redisPrefix,
        KEYS_DIR: tempDir('demo-keys-'),
        DEMO_DIR: tempDir('demo-run-'),
        PORT: String(port),
        GATEWAY_PORT: String(gatewayPort),
        UPSTREAM_PORT: String(upstreamPort),
        PUBLIC_URL: publicUrl,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    run = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        reject(new Error(`the demo did not finish within 90 s; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, 90_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
    });
  }, 300_000);
  afterAll(async () => {
    await env?.teardown();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const lines = () => run.stdout.split('\n');
  const indexOf = (pattern: RegExp) => lines().findIndex((l) => pattern.test(l));
  const section = (step: string) => {
    const all = lines();
    const start = all.findIndex((l) => l.startsWith(`step ${step} `));
    const end = all.findIndex((l, i) => i > start && (l.startsWith('step ') || l.startsWith('summary')));
    return all.slice(start, end).join('\n');
  };

  it('runs unattended to the end and exits 0, within a minute', () => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('summary  step 1 allowed · step 2 denied · step 3 approved');
    expect(run.stdout).toMatch(/demo complete\n$/);
    expect(run.ms).toBeLessThan(60_000);
  });

  it('the agent sees every sample tool through the gateway', () => {
    expect(run.stdout).toMatch(
      /tools offered: (?=.*payments__transfer_funds)(?=.*calendar__list_events)(?=.*calendar__create_event)(?=.*crm__lookup_customer)(?=.*files__read_file)(?=.*files__share_file)/,
    );
  });

  it('step 1: the allowed call reaches the upstream and its result comes back', () => {
    const step = section('1');
    expect(step).toContain('call   crm__lookup_customer {"query":"ACME GmbH"}');
    // (The upstream's own output is relayed through a pipe: it may land a line later than the agent's.)
    expect(lines().filter((l) => l.includes('upstream received crm/'))).toEqual(['  upstream received crm/lookup_customer {"query":"ACME GmbH"}']);
    expect(step).toContain('ALLOWED; result:\n      ACME GmbH (cus_1042), IBAN DE89370400440532013000, open invoices: INV-42 25000 EUR due 2026-12-04.');
  });

  it('step 2: the denied call is refused with its reason and never reaches the upstream', () => {
    const step = section('2');
    expect(step).toMatch(/DENIED {2}reasons: .*\bnot_delegated\b.*; the upstream never saw the call/);
    expect(step).toMatch(/Countersign denied this call \(reasons: .*not_delegated.*; decision dec_[\w-]+\)\. It was not sent to files\./);
    expect(run.stdout).not.toContain('received files/');
  });

  it('step 3: the payment waits for approval, the approval link is printed, bob approves through it, and the resumed call reaches the upstream exactly once with exactly the approved arguments', async () => {
    const step = section('3');
    const waiting =
      /wait {3}Awaiting approval by delegator, group:finance \(auth_req_id ([\w-]+), expires in \d+ s\): "Payment at or above the approval threshold"/.exec(
        step,
      );
    expect(waiting).not.toBeNull();
    const id = waiting![1];
    // The e-mails (demo mode logs them) with each approver's link to this request's page.
    for (const who of ['alice', 'bob', 'carol']) {
      expect(step).toContain(`mail     to ${who}@acme.example: ${publicUrl}/approve/${id}?link=`);
    }
    expect(step).toContain('approve  the page answered: You approved');
    const received = lines().filter((l) => l.includes('upstream received payments/transfer_funds'));
    expect(received).toEqual([`  upstream received payments/transfer_funds ${JSON.stringify(PAYMENT)}`]);
    // Forwarded only after the vote, and the result is the upstream's.
    expect(indexOf(/upstream received payments\/transfer_funds/)).toBeGreaterThan(indexOf(/the page answered: You approved/));
    expect(step).toMatch(/APPROVED, resumed and sent upstream; result:\n {6}Transfer tr_\w+ executed: 25000 EUR to DE89370400440532013000 \("INV-42"\)\./);

    // The database agrees: one request, approved by bob's one vote through his link, its token redeemed once.
    // Under the plain starter set, asked only because the agent stated its reason (in _meta), which the request carries.
    const requests = await sql(env.db.url, `SELECT id, status, tool_call, reason, intent FROM approval_requests`);
    expect(requests).toEqual([
      {
        id,
        status: 'approved',
        tool_call: { server: 'payments', tool: 'transfer_funds', arguments: PAYMENT },
        reason: 'Invoice INV-42 from ACME GmbH (25,000 EUR) is due today',
        intent: { category: 'pay', text: 'pay supplier invoice INV-42' },
      },
    ]);
    const [policy] = await sql<{ policies: Record<string, string> }>(
      env.db.url,
      `SELECT p.policies FROM policy_sets p JOIN active_policy_sets a USING (tenant_id, version) WHERE p.tenant_id = 'acme'`,
    );
    expect(policy.policies).toEqual(STARTER_POLICIES);
    const votes = await sql(env.db.url, `SELECT approver_id, decision, reason FROM approval_votes WHERE approval_id = $1`, [id]);
    expect(votes).toEqual([{ approver_id: 'bob', decision: 'approve', reason: expect.stringContaining('INV-42') }]);
    const redeemed = await sql(env.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE type = 'approval.token_redeemed' AND approval_id = $1`, [id]);
    expect(redeemed).toEqual([{ n: 1 }]);
  });
});
