/**
 * `npm run demo`: the whole loop on one machine, in one process tree. It starts the sample MCP
 * servers, the Countersign service in demo mode and the MCP gateway in front of them (each its own
 * child process, logging to DEMO_DIR), gives the scripted agent its delegation, then runs the agent:
 * an allowed call, a denied call and a call that needs approval. The approval e-mails (demo mode
 * writes them to the service's log) are printed with their links; open one and decide. With
 * `--auto-approve`, bob (finance) does it through the same link: he opens the page and posts its
 * form, as his browser would. Everything stops when the agent is done, or on Ctrl-C.
 *
 * Environment (all optional): PORT (the service, 3000), GATEWAY_PORT (8787), UPSTREAM_PORT (4001),
 * PUBLIC_URL (http://localhost:PORT), DEMO_DIR (.demo: logs and the gateway's config), and what the
 * service reads (DATABASE_URL, REDIS_URL, REDIS_PREFIX, KEYS_DIR, …).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { approvalEmail, decideThroughLink } from './approver-link';
import { AGENT, DELEGATED_TOOLS, demoAgentToken, demoGatewayConfig, HUMAN, prepareDemoTenant } from './demo-tenant';
import { runScriptedAgent, StepOutcome } from './scripted-agent';

const DIST = resolve(__dirname, '..');
/** Who approves in --auto-approve mode: bob is in the finance group the starter policy names. */
const AUTO_APPROVER = 'bob@acme.example';

interface Options {
  autoApprove: boolean;
  servicePort: number;
  gatewayPort: number;
  upstreamPort: number;
  publicUrl: string;
  dir: string;
}

function options(argv: string[], env: NodeJS.ProcessEnv): Options {
  const unknown = argv.filter((a) => a !== '--auto-approve');
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]}; usage: npm run demo [-- --auto-approve]`);
  const servicePort = Number(env.PORT ?? 3000);
  return {
    autoApprove: argv.includes('--auto-approve'),
    servicePort,
    gatewayPort: Number(env.GATEWAY_PORT ?? 8787),
    upstreamPort: Number(env.UPSTREAM_PORT ?? 4001),
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${servicePort}`).replace(/\/+$/, ''),
    dir: resolve(env.DEMO_DIR ?? '.demo'),
  };
}

const say = (line = '') => process.stdout.write(`${line}\n`);

/** A child process whose output goes to a log file; `ready` resolves on the first line `until` accepts. */
class Child {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  private exited = false;

  constructor(
    readonly name: string,
    script: string,
    env: NodeJS.ProcessEnv,
    logFile: string,
    until: (line: string) => boolean,
    onLine: (line: string) => void = () => undefined,
  ) {
    const log = createWriteStream(logFile);
    this.process = spawn(process.execPath, [join(DIST, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout!.pipe(log, { end: false });
    this.process.stderr!.pipe(log, { end: false });
    const lines = createInterface({ input: this.process.stdout! });
    this.ready = new Promise((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s; see ${logFile}`)), 60_000);
      lines.on('line', (line) => {
        onLine(line);
        if (until(line)) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      this.process.once('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(timer);
        reject(new Error(`${name} exited (${signal ?? code}); see ${logFile}`));
      });
    });
    this.ready.catch(() => undefined);
  }

  /** SIGTERM, then SIGKILL if it is still there after a while. */
  async stop(): Promise<void> {
    if (this.exited || this.process.exitCode !== null) return;
    const gone = new Promise<void>((r) => this.process.once('exit', () => r()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2), process.env);
  mkdirSync(o.dir, { recursive: true });
  const api = `http://127.0.0.1:${o.servicePort}`;
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= Promise.all(children.reverse().map((c) => c.stop().catch(() => undefined))).then(() => undefined));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`\n${signal}: stopping the demo`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    say('Countersign demo: an agent acting for alice calls tools through the MCP gateway');
    say(`logs and the gateway's configuration: ${o.dir}`);
    say();

    // The sample MCP servers; each call they receive is shown.
    const upstream = new Child(
      'the sample MCP servers',
      'demo/sample-upstream.js',
      { ...process.env, UPSTREAM_PORT: String(o.upstreamPort) },
      join(o.dir, 'upstream.log'),
      (l) => l.startsWith('Sample MCP servers listening'),
      (l) => l.startsWith('received ') && say(`  upstream ${l}`),
    );
    children.push(upstream);

    // The service in demo mode: approvers alice, bob, carol, dave and the groups finance and security
    // in tenant acme. Its log carries the approval e-mails (no SMTP server in demo mode).
    let autoApproved = false;
    const serviceEnv = { ...process.env, DEMO_MODE: 'true', PORT: String(o.servicePort), PUBLIC_URL: o.publicUrl, LOG_FORMAT: 'json' };
    const service = new Child(
      'the Countersign service',
      'main.js',
      serviceEnv,
      join(o.dir, 'service.log'),
      (l) => l.startsWith('Countersign listening on'),
      (line) => {
        const mail = approvalEmail(line);
        if (!mail) return;
        say(`  mail     to ${mail.to}: ${mail.link}`);
        if (o.autoApprove && mail.to === AUTO_APPROVER && !autoApproved) {
          autoApproved = true;
          say(`  approve  --auto-approve: bob opens his link and approves`);
          decideThroughLink(mail.link, 'approve', 'Checked against invoice INV-42 and the supplier record (demo --auto-approve)').then(
            (page) => say(`  approve  the page answered: ${page}`),
            (e) => say(`  approve  FAILED: ${(e as Error).message}`),
          );
        }
      },
    );
    children.push(service);
    await Promise.all([upstream.ready, service.ready]);
    say(`service  Countersign (demo mode) on ${api}, approval links on ${o.publicUrl}`);
    say(`upstream payments, calendar, crm, files on http://127.0.0.1:${o.upstreamPort}/<server>/mcp`);

    // alice delegates part of her authority to the agent (not files/share_file); the policy set is
    // published; the gateway's credentials and the agent's token come from the development key.
    const { gatewayToken, adminToken } = await prepareDemoTenant(api, serviceEnv);
    const agentToken = await demoAgentToken(serviceEnv);
    say(`delegate ${HUMAN} → ${AGENT}: ${DELEGATED_TOOLS.join(', ')}`);
    say(`policy   the starter set (payments of 10,000 or more: the delegator or finance approves)`);

    // The gateway, with the admin credential so that it registers the sample servers' tools (and
    // their input schemas) in the catalogue at start-up.
    const gatewayConfig = join(o.dir, 'gateway.json');
    const config = demoGatewayConfig({
      api,
      issuer: o.publicUrl,
      gatewayToken,
      adminToken,
      upstreamBase: `http://127.0.0.1:${o.upstreamPort}`,
      listen: { host: '127.0.0.1', port: o.gatewayPort },
    });
    writeFileSync(gatewayConfig, JSON.stringify(config, null, 2), { mode: 0o600 });
    const gateway = new Child('the MCP gateway', 'gateway/main.js', { ...process.env, GATEWAY_CONFIG: gatewayConfig }, join(o.dir, 'gateway.log'), (l) =>
      l.startsWith('Countersign MCP gateway listening on'),
    );
    children.push(gateway);
    await gateway.ready;
    const gatewayUrl = `http://127.0.0.1:${o.gatewayPort}/mcp`;
    say(`gateway  ${gatewayUrl} (tools registered in the catalogue)`);
    if (!o.autoApprove) {
      say();
      say('When step 3 waits, open one of the links printed after "mail" in a browser (alice is the');
      say('delegator; bob and carol are finance), give a reason and press Approve or Deny.');
    }

    const outcomes: StepOutcome[] = await runScriptedAgent({ gatewayUrl, agentToken, print: (l) => say(l) });
    // Let a last upstream line through before the summary.
    await new Promise((r) => setTimeout(r, 200));
    const expected = ['allowed', 'denied', 'approved'];
    const ok = outcomes.map((x) => x.verdict).join() === expected.join();
    say();
    say(`summary  ${outcomes.map((x) => `step ${x.step} ${x.verdict}`).join(' · ')}`);
    say(ok ? 'demo complete' : `demo ended differently than expected (${expected.join(', ')}); see the logs in ${o.dir}`);
    return ok ? 0 : 1;
  } catch (e) {
    say(`demo failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await stopAll();
  }
}

void main().then((code) => process.exit(code));
