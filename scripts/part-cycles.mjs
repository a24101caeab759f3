#!/usr/bin/env node
// Counts the import cycles between Countersign's parts (the top-level folders of src/), as issue 13
// measured them: `node scripts/part-cycles.mjs [--no-spec] [-v]`. --no-spec leaves test files out;
// -v lists the file imports behind each part edge of each cycle. Runs on any checkout (no config).
import { execFileSync } from 'node:child_process';

const out = execFileSync('npx', ['depcruise', 'src', '--no-config', '--ts-config', 'tsconfig.json', '--ts-pre-compilation-deps', '--output-type', 'json'], {
  maxBuffer: 1 << 28,
}).toString();
const { modules } = JSON.parse(out);
const part = (p) => /^src\/([^/]+)\//.exec(p)?.[1];
const edges = new Map();
for (const m of modules) {
  if (process.argv.includes('--no-spec') && /\.spec\.ts$|\.fixture\.ts$/.test(m.source)) continue;
  const a = part(m.source);
  if (!a) continue;
  for (const d of m.dependencies) {
    const b = part(d.resolved);
    if (!b || a === b) continue;
    const k = `${a}>${b}`;
    if (!edges.has(k)) edges.set(k, []);
    edges.get(k).push(`${m.source} -> ${d.resolved}`);
  }
}
const adj = {};
for (const k of edges.keys()) {
  const [a, b] = k.split('>');
  (adj[a] ??= []).push(b);
}
const cycles = [];
function walk(start, at, path) {
  for (const next of adj[at] ?? []) {
    if (next === start) cycles.push([...path]);
    else if (next > start && !path.includes(next)) walk(start, next, [...path, next]);
  }
}
for (const p of Object.keys(adj).sort()) walk(p, p, [p]);
const pairs = [...edges.keys()].filter((k) => {
  const [a, b] = k.split('>');
  return a < b && edges.has(`${b}>${a}`);
});
console.log(`parts that import each other: ${pairs.length} ${pairs.map((k) => k.replace('>', '<->')).join(' ')}`);
console.log(`elementary part cycles: ${cycles.length}`);
for (const c of cycles) {
  console.log(`  ${[...c, c[0]].join(' -> ')}`);
  if (!process.argv.includes('-v')) continue;
  c.forEach((a, i) => {
    for (const e of edges.get(`${a}>${c[(i + 1) % c.length]}`)) console.log(`      ${e}`);
  });
}
