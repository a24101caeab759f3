#!/usr/bin/env node
'use strict';
/**
 * Runs one CLI from the build: `node scripts/run-built.js <cli> [args…]` runs dist/src/cli/<cli>.js
 * with the arguments as given. It compiles first (tsc, incremental) only when the build is missing
 * or a source file is newer than it, so `npm run token` / `npm run link` start in well under a
 * second after the first time. Plain JavaScript: it must run before anything is compiled.
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, utimesSync } = require('node:fs');
const { join } = require('node:path');

const SOURCES = ['src', 'migrations', 'tsconfig.json', 'package.json'];
const STAMP = join('dist', '.tsbuildinfo');

/** The newest modification time (ms) under `path`: a file's own, or the newest .ts/.json file in a folder. */
function newestSource(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(child));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(child).mtimeMs);
  }
  return newest;
}

/** True when `root` has no build of `entry` or a source is newer than the last build. */
function needsBuild(root, entry) {
  const stamp = join(root, STAMP);
  if (!existsSync(join(root, entry)) || !existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.some((s) => newestSource(join(root, s)) > built);
}

function main() {
  const [cli, ...args] = process.argv.slice(2);
  if (!cli || !/^[a-z0-9-]+$/.test(cli)) {
    process.stderr.write('usage: node scripts/run-built.js <cli> [args…]\n');
    process.exit(2);
  }
  const root = join(__dirname, '..');
  const entry = join('dist', 'src', 'cli', `${cli}.js`);
  if (needsBuild(root, entry)) {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (tsc.status !== 0) process.exit(tsc.status ?? 1);
    // As `npm run build` does: the files tsc does not emit (the approval page's assets).
    const assets = spawnSync(process.execPath, [join(__dirname, 'copy-assets.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (assets.status !== 0) process.exit(assets.status ?? 1);
    // An incremental build with nothing to emit leaves the stamp as it was: mark this check done.
    const now = new Date();
    if (existsSync(join(root, STAMP))) utimesSync(join(root, STAMP), now, now);
    if (!existsSync(join(root, entry))) {
      process.stderr.write(`no such CLI: ${cli}\n`);
      process.exit(2);
    }
  }
  const run = spawnSync(process.execPath, [join(root, entry), ...args], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

if (require.main === module) main();
module.exports = { needsBuild };
