import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { needsBuild } = require('../../scripts/run-built.js') as { needsBuild(root: string, entry: string): boolean };

describe('npm run token / link build only when the build is missing or stale', () => {
  let root: string;
  const entry = join('dist', 'src', 'cli', 'mint-approver-link.js');
  const at = (path: string, seconds: number) => utimesSync(join(root, path), seconds, seconds);
  const file = (path: string, seconds: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    at(path, seconds);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'run-built-'));
    file('src/cli/mint-approver-link.ts', 1000);
    file('src/approvals/approval-view.ts', 1000);
    file('tsconfig.json', 1000);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds when there is no build', () => {
    expect(needsBuild(root, entry)).toBe(true);
  });

  it('runs the build as it is when it is newer than every source', () => {
    file(entry, 2000);
    file('dist/.tsbuildinfo', 2000);
    expect(needsBuild(root, entry)).toBe(false);
  });

  it('builds again when any source, however deep, changed since', () => {
    file(entry, 2000);
    file('dist/.tsbuildinfo', 2000);
    at('src/approvals/approval-view.ts', 3000);
    expect(needsBuild(root, entry)).toBe(true);
  });

  it('builds when the CLI asked for is not in the build', () => {
    file('dist/.tsbuildinfo', 2000);
    expect(needsBuild(root, entry)).toBe(true);
  });
});
