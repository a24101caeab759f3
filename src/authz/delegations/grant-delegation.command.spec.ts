/// <reference types="jest" />
import { grantDelegationSchema } from './grant-delegation.command';

const grant = (not_before: string, expires_at: string) =>
  grantDelegationSchema.safeParse({ human: 'alice', agent: 'scheduler', tools: ['calendar/*'], not_before, expires_at });

describe('a delegation window', () => {
  it('is compared as instants, whatever offsets its ends are written in', () => {
    // 10:00+05:00 is 05:00Z: before 06:00Z, though its string sorts after.
    expect(grant('2030-01-01T10:00:00+05:00', '2030-01-01T06:00:00Z').success).toBe(true);
    // 06:00Z is after 10:00+05:00 (05:00Z): an empty window, though its strings sort the other way.
    const empty = grant('2030-01-01T06:00:00Z', '2030-01-01T10:00:00+05:00');
    expect(empty.success).toBe(false);
    expect(empty.error?.issues).toEqual([expect.objectContaining({ path: ['expires_at'], message: 'must be after not_before' })]);
  });

  it('must end after it starts', () => {
    expect(grant('2030-01-01T06:00:00Z', '2030-01-01T06:00:00Z').success).toBe(false);
    expect(grant('2030-01-01T06:00:00Z', '2030-01-01T06:00:01Z').success).toBe(true);
  });
});
