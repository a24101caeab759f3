import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const ESLINT = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');

interface LintMessage {
  ruleId: string | null;
  severity: 1 | 2;
  line: number;
  message: string;
}
interface LintResult {
  filePath: string;
  messages: LintMessage[];
}

/** ESLint with the project's flat config (eslint.config.mjs), as `npm run lint:code` runs it; `stdin` lints that text as if it were the named file. */
function eslint(args: string[], stdin?: string): LintResult[] {
  const run = spawnSync(process.execPath, [ESLINT, '--format', 'json', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input: stdin,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (!run.stdout) throw new Error(`eslint failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as LintResult[];
}

const errorsOf = (results: LintResult[]) =>
  results.flatMap((r) =>
    r.messages.filter((m) => m.severity === 2).map((m) => `${r.filePath.slice(ROOT.length + 1)}:${m.line} ${m.ruleId ?? 'parse'}: ${m.message}`),
  );

describe('the code passes ESLint (eslint.config.mjs: typescript-eslint recommended)', () => {
  let results: LintResult[];
  beforeAll(() => {
    results = eslint(['.']);
  }, 300_000);

  it('no file has a lint error', () => {
    expect(errorsOf(results)).toEqual([]);
  });

  it('the run saw the source, tests, benches, scripts and migrations (a misconfigured run must not pass by seeing nothing)', () => {
    const files = results.map((r) => r.filePath.slice(ROOT.length + 1));
    for (const dir of ['src/', 'test/', 'bench/', 'scripts/', 'migrations/']) expect(files.filter((f) => f.startsWith(dir)).length).toBeGreaterThan(0);
    expect(files).toContain('src/notifications/page/assets/page.js');
    expect(files.length).toBeGreaterThan(300);
  });

  it('the rules are on: an unused import and an undeclared name in a browser script are errors', () => {
    const ts = eslint(['--stdin', '--stdin-filename', 'src/common/lint-probe.ts'], "import { join } from 'node:path';\nexport const x = 1;\n");
    expect(errorsOf(ts)).toEqual([expect.stringContaining("@typescript-eslint/no-unused-vars: 'join' is defined but never used")]);
    const js = eslint(['--stdin', '--stdin-filename', 'src/notifications/page/assets/probe.js'], "'use strict';\ndocument.title = undeclared;\n");
    expect(errorsOf(js)).toEqual([expect.stringContaining("no-undef: 'undeclared' is not defined")]);
  });
});
