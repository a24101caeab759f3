import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';

/** `npm run review:sample`: an auditor recomputes a decision's sample with nothing but its tenant and id. */
describe('npm run review:sample', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['scripts/run-built.js', 'review-sample', ...args], { encoding: 'utf8', timeout: 240_000 });

  it("prints each decision's sample and, with a rate, whether it is sampled, as the README formula gives them", () => {
    const out = run('--tenant', 'acme', '--decision', 'dec_1', '--decision', 'dec_2', '--rate', '0.5');
    expect(out.status).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.decision_id)).toEqual(['dec_1', 'dec_2']);
    for (const l of lines) {
      const expected = Number(createHash('sha256').update(`acme\n${l.decision_id}`).digest().readBigUInt64BE(0) >> 11n) / 2 ** 53;
      expect(l).toEqual({ tenant: 'acme', decision_id: l.decision_id, sample: expected, rate: 0.5, sampled: expected < 0.5 });
    }
  }, 300_000);

  it('refuses a rate outside (0, 1] and a missing decision, with the usage', () => {
    const bad = run('--tenant', 'acme', '--decision', 'dec_1', '--rate', '2');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--rate must be a number in (0, 1]');
    const none = run('--tenant', 'acme');
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('usage:');
  }, 300_000);
});
