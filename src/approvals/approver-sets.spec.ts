import { ApproverSet, creditedApprovals, eligibleSets, everySetMet } from './approver-sets';

const set = (approvers: string[], quorum: number, more: Partial<ApproverSet> = {}): ApproverSet => ({
  approvers,
  quorum,
  escalate_to: [],
  independent_approvers: false,
  ...more,
});

describe('approver sets (conjunctive approval, each person counted in one set)', () => {
  it('is not met while one set lacks its quorum, however many approve in the other', () => {
    // Set 0: 1 of finance; set 1: 2 of security. Two finance approvals, nobody from security.
    expect(everySetMet([{ quorum: 1 }, { quorum: 2 }], [[0], [0]])).toBe(false);
    expect(creditedApprovals([1, 2], [[0], [0]])).toEqual([1, 0]);
  });

  it('is met when every set has its quorum', () => {
    expect(everySetMet([{ quorum: 1 }, { quorum: 2 }], [[0], [1], [1]])).toBe(true);
  });

  it('counts a person eligible in two sets in one of them only', () => {
    // One person in both finance and security cannot discharge both obligations alone.
    expect(everySetMet([{ quorum: 1 }, { quorum: 1 }], [[0, 1]])).toBe(false);
    expect(everySetMet([{ quorum: 1 }, { quorum: 1 }], [[0, 1], [0]])).toBe(true);
  });

  it('finds the assignment that fills every set whatever the order of the votes', () => {
    // The first voter could sit in either set; a later voter only in set 0 moves them to set 1.
    expect(everySetMet([{ quorum: 1 }, { quorum: 1 }], [[0, 1], [0]])).toBe(true);
    expect(everySetMet([{ quorum: 2 }, { quorum: 1 }], [[0, 1], [0, 1], [0]])).toBe(true);
    expect(everySetMet([{ quorum: 2 }, { quorum: 1 }], [[0, 1], [0], [0]])).toBe(true);
    expect(
      everySetMet(
        [{ quorum: 2 }, { quorum: 1 }],
        [
          [0, 1],
          [0, 1],
        ],
      ),
    ).toBe(false);
  });

  it('ignores votes that count in no set', () => {
    expect(creditedApprovals([1], [[], []])).toEqual([0]);
  });

  describe('eligibility', () => {
    const sets = [
      set(['delegator', 'group:finance'], 1),
      set(['group:security'], 2, { independent_approvers: true }),
      set(['user:eve'], 1, { escalate_to: ['user:bob'] }),
    ];
    const who = (approverId: string) => ({ approverId, delegatorId: 'alice', agentOperator: 'olga' });
    const groups: Record<string, string[]> = { finance: ['bob', 'olga'], security: ['alice', 'carol', 'bob'] };
    const member = (id: string) => async (g: string) => groups[g]?.includes(id) ?? false;

    it('names the sets a person may count in: directly, as the delegator, through a group, or as an escalation approver', async () => {
      expect(await eligibleSets(sets, who('bob'), member('bob'))).toEqual([0, 1, 2]);
      expect(await eligibleSets(sets, who('carol'), member('carol'))).toEqual([1]);
      expect(await eligibleSets(sets, who('eve'), member('eve'))).toEqual([2]);
      expect(await eligibleSets(sets, who('zed'), member('zed'))).toEqual([]);
    });

    it('applies separation of duties per set', async () => {
      // alice delegates: she counts in set 0 (names the delegator) but not in the independent set 1.
      expect(await eligibleSets(sets, who('alice'), member('alice'))).toEqual([0]);
      expect(await eligibleSets(sets, who('olga'), member('olga'))).toEqual([0]);
    });
  });
});
