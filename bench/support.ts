/**
 * What the benchmark scripts share: their own database, a server as a child process, a plain
 * HTTP client, signed tokens and links, percentiles, and bench/results.json + RESULTS.md.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { importJWK, JWK, SignJWT } from 'jose';
import { Client } from 'pg';
import { Agent, request } from 'undici';

export const ROOT = join(__dirname, '..', '..');
const PG = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
  ratio?: number;
  note?: string;
}

/** A fresh database of that name; its URL. */
export async function resetDatabase(name: string): Promise<string> {
  const c = new Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database a run made (the machine is shared: a run leaves none behind). */
export async function dropDatabase(name: string): Promise<void> {
  const c = new Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
}

export interface Server {
  url: string;
  proc: ChildProcess;
}

/** `node <script>` (the service by default) with `env`, resolved once it listens. */
export function startServer(env: Record<string, string>, port: number, script = 'dist/src/main.js'): Promise<Server> {
  const proc = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, script)], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      if (process.env.BENCH_DEBUG) process.stderr.write(d);
      if (d.toString().includes('listening')) resolve({ url: `http://127.0.0.1:${port}`, proc });
    });
  });
}

/** SIGTERM, and wait for the exit (a server run with --cpu-prof writes its profile then). */
export async function stop(...servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.proc.exitCode !== null || s.proc.signalCode !== null) return resolve();
          s.proc.once('exit', () => resolve());
          s.proc.kill('SIGTERM');
        }),
    ),
  );
}

const agent = new Agent({ connections: 200, keepAliveTimeout: 30_000 });
export async function http(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token: string, body?: unknown) {
  const res = await request(url, {
    method,
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}
export const closeHttp = () => agent.close();

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** A request to park, as a gateway sends it. */
export const parkBody = (approvers = ['user:bob']) => ({
  tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR', to: 'DE89370400440532013000' } },
  agent: { id: 'spiffe://acme.example/agents/payment-agent', class: 'payment-agent', claims: { act: { sub: 'spiffe://acme.example/agents/orchestrator' } } },
  delegator: { id: 'alice', delegation_id: 'dlg-1' },
  intent: { id: 'task-42', text: 'pay the quarterly invoice', category: 'pay' },
  resource: { id: 'acct-7', type: 'bank_account', classification: 'confidential' },
  environment: 'production',
  reason: 'Invoice INV-2026-0042 is due today',
  obligation: { approvers, quorum: 1, binding_message: 'Pay 25,000 EUR to ACME GmbH', expires_in: 3600 },
  correlation: { mcp_session_id: 'mcp-sess-1', request_id: 'req-1' },
});

export type Signer = (claims: Record<string, unknown>, issuer: string, subject: string) => Promise<string>;

/** Tokens signed with the demo gateway key, which demo mode trusts for gateways and agents. */
export function devSigner(gwKey: JWK): Signer {
  const key = importJWK(gwKey, 'ES256');
  return async (claims, issuer, subject) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: gwKey.kid })
      .setIssuer(issuer)
      .setAudience('countersign')
      .setSubject(subject)
      .setExpirationTime('1h')
      .sign(await key);
}

/** Approver links signed with the servers' key, as the notifications part mails them. */
export async function linkMinter(signingKeysFile: string, issuer: string, tenant = 'bench') {
  const jwk = (JSON.parse(readFileSync(signingKeysFile, 'utf8')) as { keys: JWK[] }).keys[0];
  const key = await importJWK(jwk, jwk.alg);
  return (id: string, approver: string, viaGroup?: string) =>
    new SignJWT({ tenant, auth_req_id: id, ...(viaGroup ? { grp: viaGroup } : {}) })
      .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'countersign-approver-link+jwt' })
      .setIssuer(issuer)
      .setAudience('countersign:approver-link')
      .setSubject(approver)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);
}

/** The figures bench/results.json holds now (none if there is no such file). */
export function figuresOnFile(): Figure[] {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'bench/results.json'), 'utf8')) as { figures: Figure[] }).figures;
  } catch {
    return [];
  }
}

/** The figures on file with those `replaced` picks swapped for the fresh ones, where the first of them stood (else at the end). */
export function mergeInto(onFile: Figure[], fresh: Figure[], replaced: (f: Figure) => boolean): Figure[] {
  const at = onFile.findIndex(replaced);
  const kept = onFile.filter((f) => !replaced(f));
  const index = at < 0 ? kept.length : at;
  return [...kept.slice(0, index), ...fresh, ...kept.slice(index)];
}

/** Writes bench/results.json (for machines) and bench/RESULTS.md (for people), and prints the latter. */
export function writeFigures(list: Figure[], refreshed?: string): void {
  const machine = `${process.platform} ${process.arch}, Node ${process.version}, ${cpus().length} cores`;
  writeFileSync(join(ROOT, 'bench/results.json'), JSON.stringify({ date: new Date().toISOString(), machine, figures: list }, null, 2) + '\n');
  const rows = list.map(
    (f) =>
      `| ${f.name} | ${f.value} ${f.unit} | ${f.baseline ? `${f.baseline.name}: ${f.baseline.value} ${f.baseline.unit}` : ''} | ${f.ratio ?? ''} | ${f.note ?? ''} |`,
  );
  // Sections written by hand after the table (`## …`, e.g. the speed section) stay as they are.
  const file = join(ROOT, 'bench/RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const handWritten = previous.indexOf('\n## ') >= 0 ? previous.slice(previous.indexOf('\n## ') + 1) : '';
  writeFileSync(
    file,
    [
      '# Benchmark results',
      '',
      `Run ${new Date().toISOString()}${refreshed ? ` (${refreshed})` : ''} on ${machine}. Servers are child processes of the load generator, all on the same cores; ` +
        'figures are comparable only as ratios to the baseline measured in the same run.',
      '',
      '| figure | value | baseline | ratio | note |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      ...(handWritten ? [handWritten] : []),
    ].join('\n'),
  );
  process.stdout.write(readFileSync(join(ROOT, 'bench/RESULTS.md'), 'utf8'));
}

const redisPrefixes: string[] = [];

/** A Redis prefix of this run's own, deleted again by forgetRedisKeys(): the Redis is shared with test runs. */
export function benchRedisPrefix(name: string): string {
  const prefix = `${name}-${Date.now()}`;
  redisPrefixes.push(prefix);
  return prefix;
}

/** Deletes every key under the run's prefixes (100,000 delayed jobs left behind slow every SCAN on the machine). */
export async function forgetRedisKeys(url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const prefix of redisPrefixes.splice(0)) await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds a process has used so far (user + system, /proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
