import fc from 'fast-check';
import { ApproverSet, approvalsNeeded, everySetMet } from './approver-sets';
import { TalliedVote, tally } from './vote-tally';

const set = (quorum: number, approvers: string[] = ['group:any']): ApproverSet => ({
  approvers,
  quorum,
  escalate_to: [],
  independent_approvers: false,
});
const request = (quorums: number[], denyThreshold = 1) => ({ approverSets: quorums.map((q) => set(q)), denyThreshold });
const approve = (...eligibleSets: number[]): TalliedVote => ({ decision: 'approve', eligibleSets });
const deny = (...eligibleSets: number[]): TalliedVote => ({ decision: 'deny', eligibleSets });

describe('the vote tally', () => {
  it('is pending with no votes, and every set shows no approvals', () => {
    const t = tally(request([2]), []);
    expect(t).toMatchObject({ verdict: 'pending', approve: 0, deny: 0 });
    expect(t.progress).toEqual([{ approvers: ['group:any'], quorum: 2, escalate_to: [], independent_approvers: false, approvals: 0, met: false }]);
  });

  it('approves a single set when its quorum is reached, not before', () => {
    expect(tally(request([2]), [approve(0)]).verdict).toBe('pending');
    const t = tally(request([2]), [approve(0), approve(0)]);
    expect(t).toMatchObject({ verdict: 'approved', approve: 2, deny: 0 });
    expect(t.progress[0]).toMatchObject({ approvals: 2, met: true });
  });

  it('approves two sets only when both have their quorum (conjunctive)', () => {
    // Set 0: 1 of finance; set 1: 2 of security.
    const r = request([1, 2], 3);
    const onlyFinance = tally(r, [approve(0), approve(0), approve(0)]);
    expect(onlyFinance.verdict).toBe('pending');
    expect(onlyFinance.progress.map((p) => [p.approvals, p.met])).toEqual([
      [1, true],
      [0, false],
    ]);
    expect(tally(r, [approve(0), approve(1)]).verdict).toBe('pending');
    const both = tally(r, [approve(0), approve(1), approve(1)]);
    expect(both.verdict).toBe('approved');
    expect(both.progress.map((p) => p.approvals)).toEqual([1, 2]);
  });

  it('counts a person eligible in two sets in one of them only', () => {
    const r = request([1, 1], 2);
    const alone = tally(r, [approve(0, 1)]);
    expect(alone.verdict).toBe('pending');
    expect(alone.progress.map((p) => p.approvals)).toEqual([1, 0]);
    // A second person who can count only in set 0 moves the first to set 1: both sets are met.
    const two = tally(r, [approve(0, 1), approve(0)]);
    expect(two.verdict).toBe('approved');
    expect(two.progress.map((p) => p.approvals)).toEqual([1, 1]);
  });

  it('denies when the denials reach the threshold while approvals are still short', () => {
    const r = request([3], 2);
    const one = tally(r, [approve(0), approve(0), deny(0)]);
    expect(one).toMatchObject({ verdict: 'pending', approve: 2, deny: 1 });
    const two = tally(r, [approve(0), approve(0), deny(0), deny(0)]);
    expect(two).toMatchObject({ verdict: 'denied', approve: 2, deny: 2 });
    expect(two.progress[0]).toMatchObject({ approvals: 2, met: false });
  });

  it('counts every denial toward the threshold, whichever set its voter was eligible in', () => {
    const r = request([1, 1], 2);
    expect(tally(r, [deny(0), deny(1)]).verdict).toBe('denied');
    expect(tally(r, [deny(0, 1)]).verdict).toBe('pending');
  });

  it('denies on the first denial with the default threshold of one', () => {
    expect(tally(request([2]), [approve(0), deny(0)]).verdict).toBe('denied');
  });

  it('credits no set with a denial', () => {
    expect(tally(request([1], 5), [deny(0), deny(0)]).progress[0]).toMatchObject({ approvals: 0, met: false });
  });

  it('lets the approval win when the same votes meet every quorum and the deny threshold', () => {
    expect(tally(request([1], 1), [deny(0), approve(0)]).verdict).toBe('approved');
  });

  it('shows every set the same progress whoever voted first (a case where first-come crediting differed)', () => {
    const r = request([1, 3, 3, 2]);
    const cast = [approve(0, 2), approve(1), approve(1, 2, 3), approve(0), approve(1, 2), approve(0, 1, 3)];
    const otherOrder = [cast[5], cast[0], cast[3], cast[1], cast[2], cast[4]];
    expect(tally(r, otherOrder).progress.map((p) => p.approvals)).toEqual(tally(r, cast).progress.map((p) => p.approvals));
    expect(tally(r, cast).verdict).toBe('pending');
  });

  it('ignores approvals that count in no set', () => {
    expect(tally(request([1], 1), [approve(), approve()])).toMatchObject({ verdict: 'pending', approve: 2 });
  });

  describe('properties', () => {
    const sets = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 });
    const scenario = sets.chain((quorums) =>
      fc.record({
        quorums: fc.constant(quorums),
        denyThreshold: fc.integer({ min: 1, max: 4 }),
        votes: fc.array(
          fc.record({
            decision: fc.constantFrom<'approve' | 'deny'>('approve', 'deny'),
            eligibleSets: fc.uniqueArray(fc.integer({ min: 0, max: quorums.length - 1 }), { maxLength: quorums.length }),
          }),
          { maxLength: 8 },
        ),
      }),
    );

    it('reaches the same verdict and shows the same progress in every set, whatever the order of the votes', () => {
      fc.assert(
        fc.property(
          scenario.chain((s) => fc.record({ s: fc.constant(s), shuffled: fc.shuffledSubarray(s.votes, { minLength: s.votes.length }) })),
          ({ s: { quorums, denyThreshold, votes }, shuffled }) => {
            const r = request(quorums, denyThreshold);
            const t = tally(r, shuffled);
            expect(t).toEqual(tally(r, votes));
          },
        ),
      );
    });

    it('approves exactly when every set is met, with at least as many approvals as the quorums add up to', () => {
      fc.assert(
        fc.property(scenario, ({ quorums, denyThreshold, votes }) => {
          const r = request(quorums, denyThreshold);
          const t = tally(r, votes);
          const approving = votes.filter((v) => v.decision === 'approve').map((v) => v.eligibleSets);
          expect(t.verdict === 'approved').toBe(everySetMet(r.approverSets, approving));
          if (t.verdict === 'approved') expect(t.approve).toBeGreaterThanOrEqual(approvalsNeeded(r.approverSets));
          if (t.verdict === 'denied') expect(t.deny).toBeGreaterThanOrEqual(denyThreshold);
          if (t.verdict === 'pending') expect(t.deny).toBeLessThan(denyThreshold);
          expect(t.progress.every((p, i) => p.approvals <= quorums[i])).toBe(true);
        }),
      );
    });
  });
});
