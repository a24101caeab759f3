import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { satisfies, validRange } from 'semver';

const ROOT = join(__dirname, '..', '..');

/**
 * Packages whose `engines.node` excludes Node 20.20 although their code runs on it, each with the
 * reason and where that is tested. Anything else that needs a newer Node fails the check.
 */
const RUNS_ON_NODE_20: Record<string, string> = {
  // 5.x asks for Node 22 because CommonJS reaches it through require(esm), which Node 20.19
  // also has unflagged; its code needs String.prototype.isWellFormed (Node 20). 4.0.0 (>=18) has
  // no require/default export condition, so a CommonJS build cannot load it at all.
  // src/common/canonical-json.spec.ts runs it as the reference on thousands of generated values.
  'canonicalize@5.1.0': 'require(esm) and isWellFormed, both in Node 20.19+',
};

interface InstalledPackage {
  name: string;
  version: string;
  /** The package's `engines.node`, when it declares one. */
  node?: string;
}

/** Every package npm installed (nested node_modules included), as its own package.json says. */
function installedPackages(dir = join(ROOT, 'node_modules'), found: InstalledPackage[] = []): InstalledPackage[] {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      installedPackages(path, found);
      continue;
    }
    const manifest = join(path, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; version: string; engines?: { node?: unknown } };
      found.push({ name: pkg.name, version: pkg.version, node: typeof pkg.engines?.node === 'string' ? pkg.engines.node : undefined });
    }
    installedPackages(join(path, 'node_modules'), found);
  }
  return found;
}

// The README names one Node version (20.20, the machines' and the image's); `npm ci` only warns
// about a dependency that needs a newer one, so the check that none does lives here.
describe('the installed dependencies', () => {
  const packages = installedPackages();
  const projectRange = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

  it('were found (the walk reads node_modules)', () => {
    expect(packages.length).toBeGreaterThan(300);
    expect(packages.filter((p) => p.node !== undefined).length).toBeGreaterThan(100);
  });

  it('all support the Node version this runs on, which is the one package.json names', () => {
    expect(satisfies(process.version, projectRange)).toBe(true);
    const unsupported = packages
      .filter((p) => p.node !== undefined && validRange(p.node) !== null && !satisfies(process.version, p.node, { includePrerelease: true }))
      .filter((p) => RUNS_ON_NODE_20[`${p.name}@${p.version}`] === undefined)
      .map((p) => `${p.name}@${p.version} needs node ${p.node}`);
    expect(unsupported).toEqual([]);
  });

  it('list an exception only while it is installed and still needs it (a stale entry fails)', () => {
    for (const id of Object.keys(RUNS_ON_NODE_20)) {
      const installed = packages.filter((p) => `${p.name}@${p.version}` === id);
      expect({ id, installed: installed.length > 0 }).toEqual({ id, installed: true });
      expect({ id, excluded: installed.every((p) => p.node !== undefined && !satisfies(process.version, p.node)) }).toEqual({ id, excluded: true });
    }
  });
});
