import { createHash } from 'node:crypto';
import { isSampled, sampleOf } from './review-sample';

describe('review sample', () => {
  it('is the first 53 bits of SHA-256 over tenant, newline, call id, as a fraction of 2^53', () => {
    const digest = createHash('sha256').update('acme\ndec_1').digest('hex');
    const expected = parseInt(digest.slice(0, 14), 16) / 2 ** 56; // 56 bits, then drop the low 3 below
    expect(Math.abs(sampleOf('acme', 'dec_1') - expected)).toBeLessThan(2 ** -53);
    expect(sampleOf('acme', 'dec_1')).toBe(sampleOf('acme', 'dec_1'));
  });

  it('depends on the tenant as well as the call id', () => {
    expect(sampleOf('acme', 'dec_1')).not.toBe(sampleOf('globex', 'dec_1'));
  });

  it('samples the calls whose value is below the rate, so a rate of 1 samples every call', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `dec_${i}`);
    expect(ids.every((id) => isSampled('acme', id, 1))).toBe(true);
    for (const id of ids) expect(isSampled('acme', id, 0.3)).toBe(sampleOf('acme', id) < 0.3);
  });

  it('holds the rate over many calls (within 4 sigma)', () => {
    const n = 20_000;
    const hits = Array.from({ length: n }, (_, i) => isSampled('acme', `dec_${i}`, 0.1)).filter(Boolean).length;
    const sigma = Math.sqrt(n * 0.1 * 0.9);
    expect(Math.abs(hits - n * 0.1)).toBeLessThan(4 * sigma);
  });
});
