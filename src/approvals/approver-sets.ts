/**
 * Conjunctive approval: a request can carry several approver sets (one per approval obligation
 * that applied), each with its own quorum, and it is approved only when every set has reached
 * its quorum.
 *
 * How a person named in several sets counts: **in one set only**. The approving votes are
 * assigned to sets (each voter to at most one set they were eligible for when they voted, each
 * set taking at most its quorum), and the request is approved when some assignment fills every
 * set. So two sets "1 of finance" and "2 of security" need three distinct people even if one of
 * them is in both groups: obligations from different policies are separate controls, and one
 * person's approval never discharges two of them. (The looser rule, "a vote counts in every set
 * its voter belongs to", would let one finance-and-security person answer for both policies.)
 * The best assignment is found as a bipartite matching, so the order of the votes never matters.
 * Identical sets from two policies are merged before parking (see the policy engine), so the
 * same control asked for twice is asked for once.
 *
 * Plain TypeScript, no Nest: the lifecycle, the notifications part and the view share it.
 */
/** One approval obligation: who may approve (escalation approvers included) and how many must. */
export interface ApproverSet {
  /** "user:<id>", "group:<name>" or "delegator". */
  approvers: string[];
  quorum: number;
  /** Escalation approvers who count in this set (they may vote from the start). */
  escalate_to: string[];
  /** Separation of duties for this set: the delegating human and the agent's operator do not count in it. */
  independent_approvers: boolean;
}

/** Everyone a set names, escalation approvers included. */
export const namedIn = (set: ApproverSet): string[] => [...set.approvers, ...set.escalate_to];

/**
 * The sets in which `approverId` may count, by index. `isMember(group)` says whether they are in
 * a group (checked now: a link vouches for membership only when it was sent).
 */
export async function eligibleSets(
  sets: ApproverSet[],
  who: { approverId: string; delegatorId: string; agentOperator: string | null },
  isMember: (group: string) => Promise<boolean>,
): Promise<number[]> {
  const memberships = new Map<string, Promise<boolean>>();
  const member = (group: string) => {
    if (!memberships.has(group)) memberships.set(group, isMember(group));
    return memberships.get(group)!;
  };
  const out: number[] = [];
  for (const [i, set] of sets.entries()) {
    if (set.independent_approvers && (who.approverId === who.delegatorId || who.approverId === who.agentOperator)) continue;
    const named = namedIn(set);
    const direct = named.includes(`user:${who.approverId}`) || (named.includes('delegator') && who.approverId === who.delegatorId);
    let eligible = direct;
    for (const ref of named) {
      if (eligible) break;
      if (ref.startsWith('group:')) eligible = await member(ref.slice('group:'.length));
    }
    if (eligible) out.push(i);
  }
  return out;
}

/**
 * The most approvals each set can be credited with when every voter counts in at most one set
 * (a maximum bipartite b-matching by augmenting paths; sets and voters are few).
 * `voters[k]` lists the sets voter k may count in.
 */
export function creditedApprovals(quorums: number[], voters: number[][]): number[] {
  const assignedTo: (number | undefined)[] = voters.map(() => undefined);
  const filled = quorums.map(() => 0);
  const holders = (set: number) => assignedTo.flatMap((s, k) => (s === set ? [k] : []));
  // Can voter k be placed, moving already-placed voters along an augmenting path if need be?
  const place = (k: number, seen: Set<number>): boolean => {
    for (const set of voters[k]) {
      if (seen.has(set)) continue;
      seen.add(set);
      if (filled[set] < quorums[set]) {
        assignedTo[k] = set;
        filled[set]++;
        return true;
      }
      for (const other of holders(set)) {
        if (place(other, seen)) {
          // `other` moved to another set (which counted it there); k takes its place here.
          filled[set]--;
          assignedTo[k] = set;
          filled[set]++;
          return true;
        }
      }
    }
    return false;
  };
  for (let k = 0; k < voters.length; k++) place(k, new Set());
  return filled;
}

/** Every set at its quorum, with each approving voter counted in one set only. */
export function everySetMet(sets: Pick<ApproverSet, 'quorum'>[], approvingVoters: number[][]): boolean {
  const credited = creditedApprovals(
    sets.map((s) => s.quorum),
    approvingVoters,
  );
  return credited.every((n, i) => n >= sets[i].quorum);
}

/** The fewest distinct approvals that can approve the request (each person counts once). */
export const approvalsNeeded = (sets: Pick<ApproverSet, 'quorum'>[]): number => sets.reduce((n, s) => n + s.quorum, 0);
