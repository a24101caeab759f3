/**
 * Who may vote on an approval request. Approvals enforce it when a vote arrives; notifications
 * apply the same rules when choosing whom to notify and what the approval page offers, so the
 * rules take plain shapes here instead of the approvals part's entity.
 */

/** What separation of duties needs to know of a request. */
export interface SeparationOfDuties {
  independentApprovers: boolean;
  delegatorId: string;
  agentOperator: string | null;
}

/** What eligibility needs to know of a request: separation of duties and who is named. */
export interface NamedApprovers extends SeparationOfDuties {
  approvers: string[];
  escalateTo: string[];
}

/** An approver as an approver link identifies them: their id and, when the link came through a group, that group. */
export interface ApproverIdentity {
  approverId: string;
  viaGroup?: string;
}

/** Separation of duties: with independent approvers, the delegating human and the agent's operator are out. */
export function excludedFromApproving(o: SeparationOfDuties, approverId: string): boolean {
  return o.independentApprovers && (approverId === o.delegatorId || approverId === o.agentOperator);
}

/**
 * Why this approver may not vote on the request, or undefined when they may: they must be named
 * (directly, as the delegator, or through a group; escalation approvers count from the start),
 * and under separation of duties neither the delegating human nor the agent's operator may vote.
 */
export function ineligibility(request: NamedApprovers, approver: ApproverIdentity): string | undefined {
  const who = approver.approverId;
  if (excludedFromApproving(request, who)) {
    const role = who === request.delegatorId ? 'the delegating human' : "the agent's operator";
    return `${who} is ${role} and this request requires independent approvers (separation of duties)`;
  }
  const named = new Set([...request.approvers, ...request.escalateTo]);
  if (named.has(`user:${who}`)) return undefined;
  if (named.has('delegator') && who === request.delegatorId) return undefined;
  if (approver.viaGroup !== undefined && named.has(`group:${approver.viaGroup}`)) return undefined;
  return `${who} is not an approver of this request`;
}
