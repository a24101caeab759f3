/**
 * Where a server's CPU time goes under one load of npm run bench: run the bench with
 * `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=<dir>"`; it writes `<dir>/windows.json` (the
 * service's pid and when each load ran, on the monotonic clock V8's profiler stamps samples with),
 * and `node dist/bench/cpu-profile.js <dir> [load…]` prints, for each load, the self time of the
 * service's process by part (Cedar, Postgres client, Fastify, …) and its top functions, as shares
 * of the samples taken while the load ran.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
export interface LoadWindow {
  key: string;
  /** Microseconds on the monotonic clock (process.hrtime), as the profile's timestamps. */
  start: number;
  end: number;
  responses: number;
}

/** The part of the stack a function belongs to, by where its code lives. */
function partOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return functionName.startsWith('(') ? functionName : 'V8 builtins / native';
  }
  if (url.startsWith('wasm://') || url.includes('cedar-wasm')) return 'Cedar (wasm and its JS glue)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) {
    const name = pkg[1];
    if (name === 'pg' || name === 'pg-protocol' || name === 'pg-pool' || name === 'typeorm') return 'Postgres client (pg, typeorm)';
    if (name === 'ioredis' || name === 'bullmq') return 'Redis client (ioredis)';
    if (name.startsWith('@nestjs') || name === 'rxjs' || name === 'reflect-metadata') return 'Nest';
    if (name.includes('fastify') || name === 'find-my-way' || name === 'avvio' || name === 'light-my-request' || name === 'secure-json-parse') return 'Fastify';
    if (name === 'zod') return 'zod (input validation)';
    if (name === 'jose') return 'jose';
    return name;
  }
  if (url.startsWith('node:')) return 'Node core (net, http, streams, timers)';
  const src = /\/dist\/src\/([^/]+(?:\/[^/]+)?)\//.exec(url);
  if (src) return `countersign src/${src[1]}`;
  return url.split('/').slice(-2).join('/');
}

const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : ''}`.trim();

export interface WindowSummary {
  key: string;
  /** Samples (the profiler's ticks, idle excluded) per response. */
  samplesPerResponse: number;
  parts: { part: string; share: number }[];
  top: { fn: string; share: number }[];
}

/** Self time per part and per function of the samples that fall in the windows (idle excluded). */
export function summarise(profile: Profile, windows: LoadWindow[], top = 12): WindowSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parts = new Map<string, number>();
  const fns = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (!windows.some((w) => t >= w.start && t <= w.end)) continue;
    // Each sample counts once: on a loaded machine the time between samples stretches while the
    // process waits for a core, which would charge the wait to whatever ran last.
    const dt = 1;
    const frame = byId.get(profile.samples[i])!.callFrame;
    if (frame.functionName === '(idle)') continue;
    total += dt;
    const part = partOf(frame);
    parts.set(part, (parts.get(part) ?? 0) + dt);
    fns.set(label(frame), (fns.get(label(frame)) ?? 0) + dt);
  }
  const ranked = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, Math.round((1000 * v) / Math.max(1, total)) / 10] as const);
  const responses = windows.reduce((sum, w) => sum + w.responses, 0);
  return {
    key: windows[0]?.key ?? '',
    samplesPerResponse: Math.round((100 * total) / Math.max(1, responses)) / 100,
    parts: ranked(parts, 10).map(([part, share]) => ({ part, share })),
    top: ranked(fns, top).map(([fn, share]) => ({ fn, share })),
  };
}

/** The service's profile in a --cpu-prof directory, summarised per load (the rounds of one load together). */
export function summariseDir(dir: string, keys?: string[]): WindowSummary[] {
  // A window may name its own process (bench:scale restarts the service between its probes).
  const { pid, windows } = JSON.parse(readFileSync(join(dir, 'windows.json'), 'utf8')) as { pid: number; windows: (LoadWindow & { pid?: number })[] };
  const profileOf = (p: number) => {
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.split('.').includes(String(p)));
    if (!file) throw new Error(`no profile of pid ${p} in ${dir}`);
    return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  };
  const loads = [...new Set(windows.map((w) => w.key))].filter((k) => !keys?.length || keys.includes(k));
  return loads.map((k) => {
    const mine = windows.filter((w) => w.key === k);
    return summarise(profileOf(mine[0].pid ?? pid), mine);
  });
}

if (require.main === module) {
  const [dir, ...keys] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node dist/bench/cpu-profile.js <cpu-prof dir> [load…]');
  for (const s of summariseDir(dir, keys)) {
    process.stdout.write(`\n${s.key}: ${s.samplesPerResponse} samples per response\n`);
    for (const p of s.parts) process.stdout.write(`  ${String(p.share).padStart(5)}%  ${p.part}\n`);
    process.stdout.write('  top functions (self time):\n');
    for (const f of s.top) process.stdout.write(`  ${String(f.share).padStart(5)}%  ${f.fn}\n`);
  }
}
