import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}
interface CruiseResult {
  modules: { source: string; dependencies: { resolved: string }[] }[];
  summary: { violations: Violation[] };
}

/** dependency-cruiser over src/ with the project's rules (.dependency-cruiser.cjs), as `npm run lint:boundaries` runs it. */
function cruise(): CruiseResult {
  const bin = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const run = spawnSync(process.execPath, [bin, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (!run.stdout) throw new Error(`dependency-cruiser failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as CruiseResult;
}

/** The part (top-level folder of src/) a module is in; undefined for src's own files and for packages. */
const partOf = (path: string) => /^src\/([^/]+)\//.exec(path)?.[1];

/** Every elementary cycle of the part graph, each as the parts along it. */
function partCycles(modules: CruiseResult['modules']): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const m of modules) {
    const from = partOf(m.source);
    for (const d of m.dependencies) {
      const to = partOf(d.resolved);
      if (from && to && from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  const cycles: string[][] = [];
  const walk = (start: string, at: string, path: string[]) => {
    for (const next of edges.get(at) ?? []) {
      if (next === start) cycles.push([...path]);
      else if (next > start && !path.includes(next)) walk(start, next, [...path, next]);
    }
  };
  for (const part of [...edges.keys()].sort()) walk(part, part, [part]);
  return cycles;
}

describe('the boundaries between the parts hold (.dependency-cruiser.cjs)', () => {
  let result: CruiseResult;
  beforeAll(() => {
    result = cruise();
  }, 120_000);

  it('no import breaks a rule: layers, the plain policy engine core, SQL-free controllers, entities kept in their part', () => {
    const broken = result.summary.violations.map((v) =>
      v.cycle ? `${v.rule.name}: ${v.from} → ${v.cycle.map((c) => c.name).join(' → ')}` : `${v.rule.name}: ${v.from} → ${v.to}`,
    );
    expect(broken).toEqual([]);
  });

  it('no two parts depend on each other, directly or around a longer cycle', () => {
    expect(partCycles(result.modules)).toEqual([]);
  });

  it('the cruise saw the whole source tree (a misconfigured cruise must not pass by seeing nothing)', () => {
    const parts = new Set(result.modules.map((m) => partOf(m.source)));
    for (const part of ['approvals', 'audit', 'authz', 'ciba', 'common', 'config', 'notifications', 'ops', 'vocabulary']) expect(parts).toContain(part);
    expect(result.modules.length).toBeGreaterThan(200);
  });
});
