/**
 * The rule that decides a request from its votes (DecideApproval applies it under the request's
 * row lock): approved once every approver set has reached its quorum, each approving person
 * counted in one set only (approver-sets.ts); denied once the denials reach the deny threshold,
 * whichever sets the deniers were eligible in; pending otherwise. Approval is checked first, so
 * the vote that completes every quorum approves even when the denials have reached the threshold.
 *
 * Plain TypeScript over plain data, so it can be tested without a database.
 */
import { ApproverSet, creditedApprovals } from './approver-sets';

/** A vote as the tally reads it: what was decided and the sets its voter could count in. */
export interface TalliedVote {
  decision: 'approve' | 'deny';
  eligibleSets: number[];
}

export interface SetProgress {
  approvers: string[];
  quorum: number;
  escalate_to: string[];
  independent_approvers: boolean;
  /**
   * Approvals credited to this set: each approving person counts in one set only, and as many
   * approvals are credited as can be (a maximum matching). The matching runs over the votes in a
   * canonical order, so what every set shows depends on the votes cast, never on their order: two
   * approvers looking at the same request see the same progress whoever voted first.
   */
  approvals: number;
  met: boolean;
}

export type Verdict = 'approved' | 'denied' | 'pending';

export interface Tally {
  verdict: Verdict;
  approve: number;
  deny: number;
  /** Each set's quorum and the approvals credited to it. */
  progress: SetProgress[];
}

/** Each approver set with the approvals credited to it. */
export function setProgress(request: { approverSets: ApproverSet[] }, votes: TalliedVote[]): SetProgress[] {
  const approving = votes
    .filter((v) => v.decision === 'approve')
    .map((v) => [...v.eligibleSets].sort((a, b) => a - b))
    .sort(byLists);
  const credited = creditedApprovals(
    request.approverSets.map((s) => s.quorum),
    approving,
  );
  return request.approverSets.map((set, i) => ({
    approvers: set.approvers,
    quorum: set.quorum,
    escalate_to: set.escalate_to,
    independent_approvers: set.independent_approvers,
    approvals: credited[i],
    met: credited[i] >= set.quorum,
  }));
}

/** Lexicographic order of two lists of set indexes. */
function byLists(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The request's verdict and counts after `votes` (all of them, the newest included). */
export function tally(request: { approverSets: ApproverSet[]; denyThreshold: number }, votes: TalliedVote[]): Tally {
  const approve = votes.filter((v) => v.decision === 'approve').length;
  const deny = votes.length - approve;
  const progress = setProgress(request, votes);
  // Conjunctive: approved only when every set has its quorum; any set's denial counts toward the threshold.
  const verdict: Verdict = progress.every((p) => p.met) ? 'approved' : deny >= request.denyThreshold ? 'denied' : 'pending';
  return { verdict, approve, deny, progress };
}
