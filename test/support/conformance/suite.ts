import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** One check of a scenario, as the conformance runner writes it to checks.json. */
export interface ConformanceCheck {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

export interface ScenarioResult {
  scenario: string;
  /** As the suite's own tier-check counts it: at least one SUCCESS and no FAILURE. */
  passed: boolean;
  failures: string[];
}

const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const NODE20 = join(__dirname, 'node20-register.mjs');

/**
 * Runs `conformance server --url <url> --scenario <s>` (the official runner, as a child process)
 * for each scenario and reads its checks.json. The runner exits non-zero when a scenario fails;
 * that is a result here, not an error.
 */
export async function runServerScenarios(url: string, scenarios: string[], timeoutMs = 60_000): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const out = mkdtempSync(join(tmpdir(), 'conformance-'));
    try {
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((done) => {
        execFile(
          process.execPath,
          ['--import', NODE20, CLI, 'server', '--url', url, '--scenario', scenario, '-o', out],
          { cwd: ROOT, timeout: timeoutMs },
          (_error, stdout, stderr) => done({ stdout, stderr }),
        );
      });
      const checks = readChecks(out);
      if (!checks) {
        results.push({ scenario, passed: false, failures: [`no checks.json: ${(stderr || stdout).trim().split('\n').slice(-3).join(' | ')}`] });
        continue;
      }
      const failures = checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${c.errorMessage ?? c.name}`);
      results.push({ scenario, passed: failures.length === 0 && checks.some((c) => c.status === 'SUCCESS'), failures });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return results;
}

function readChecks(dir: string): ConformanceCheck[] | undefined {
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (entry.endsWith('checks.json')) return JSON.parse(readFileSync(join(dir, entry), 'utf8')) as ConformanceCheck[];
  }
  return undefined;
}

/** The runner's server scenarios (`conformance list --server`). */
export async function listServerScenarios(): Promise<string[]> {
  const stdout = await new Promise<string>((done, fail) =>
    execFile(process.execPath, ['--import', NODE20, CLI, 'list', '--server'], { cwd: ROOT }, (error, out) => (error ? fail(error) : done(out))),
  );
  return [...stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
}
