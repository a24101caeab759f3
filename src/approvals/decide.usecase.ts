import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log.service';
import { combinedStatement } from '../common/database/insert-statement';
import { ApproverPrincipal } from '../common/auth/auth.decorators';
import { Conflict, Forbidden, NotFound } from '../common/errors/protocol-errors';
import { auditContext } from './approval-audit';
import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalSettlement } from './approval-settlement.service';
import { ApproverRouting } from './approver-routing.port';
import { decisionFields } from './decision-fields';
import { eligibleSets } from './approver-sets';
import { SetProgress, tally } from './vote-tally';
import { ApprovalVote, VoteDecision } from './approval-vote.entity';
import { ExpireApproval } from './expire-approval.usecase';
import { assertionSchema, type Assertion } from './passkeys/passkey.schema';
import { Passkeys, VerifiedBatchProof } from './passkeys/passkeys.service';
import { standingChoiceSchema } from './standing/standing-choice.schema';
import { StandingApprovals } from './standing/standing-approvals.service';
import { chooseTerms, StandingChoice } from './standing/standing-terms';
import { ineligibility } from '../vocabulary/approver-eligibility';

export const decisionSchema = z
  .strictObject({
    ...decisionFields,
    /** Let the approval stand beyond this call, as far as the policy allows (standing/standing-terms.ts); absent: this call only. */
    standing: standingChoiceSchema.optional(),
    /** A WebAuthn assertion over this decision's challenge (POST …/passkey-challenge); required where the policy or the approver asks for one. */
    passkey: assertionSchema.optional(),
  })
  .refine((d) => d.decision === 'approve' || !d.standing || d.standing.scope === 'call', {
    path: ['standing', 'scope'],
    message: 'only an approval can stand beyond this call: a denial is for this call',
  });

export interface DecideCommand {
  approver: ApproverPrincipal;
  approvalId: string;
  decision: VoteDecision;
  reason: string;
  standing?: StandingChoice;
  /** The WebAuthn assertion that signs this decision (passkeys/passkey-proof.ts). */
  passkey?: Assertion;
  /** Instead of `passkey`: the batch assertion this vote was signed with, verified once for the whole batch (Passkeys.proveBatch). */
  batchProof?: VerifiedBatchProof;
}

export interface DecideResult {
  auth_req_id: string;
  status: ApprovalStatus;
  your_vote: VoteDecision;
  votes: { approve: number; deny: number };
  /** The fewest approvals that can approve the request (the sum of its sets' quorums). */
  quorum: number;
  /** Each set's quorum and the approvals credited to it (each person counts in one set only). */
  approver_sets: SetProgress[];
  /** Granted when this vote approved the request and every approving vote chose the same standing scope. */
  standing_approval?: Awaited<ReturnType<StandingApprovals['grantInTransaction']>>;
}

/**
 * Records one approver's vote and settles the request when the vote decides it. Decide-once:
 * votes on one request are serialised by a row lock, each approver votes once (also enforced by
 * a unique constraint), and a settled request takes no more votes.
 */
@Injectable()
export class DecideApproval {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly audit: AuditLog,
    private readonly settlement: ApprovalSettlement,
    private readonly expiry: ExpireApproval,
    private readonly routing: ApproverRouting,
    private readonly standingApprovals: StandingApprovals,
    private readonly passkeys: Passkeys,
  ) {}

  async execute(cmd: DecideCommand): Promise<DecideResult> {
    const { approver } = cmd;
    if (approver.authReqId !== cmd.approvalId) throw new Forbidden('this approver link is for another approval request');
    type Outcome = { result?: DecideResult; settled?: ApprovalRequest; closed?: ApprovalStatus };
    const preferenceRead = this.passkeys.preferenceOf(approver.tenantId, approver.approverId);
    // A link outlives the person's standing: one the directory has disabled since it was sent may
    // not vote, and group memberships are read again now, with the lock (one round trip for all).
    const [personRead, groupsRead] = this.routing.standingReads(approver.tenantId, approver.approverId);
    const outcome = await this.requests.withLocked(
      approver.tenantId,
      cmd.approvalId,
      async (request, manager, votes, [preference, person, memberships]): Promise<Outcome> => {
        const { disabled, groups } = this.routing.standingFrom([person, memberships]);
        if (disabled) throw new Forbidden(`${approver.approverId} is disabled in the approver directory and may not vote`);
        if (!request) throw new NotFound('no such approval request');
        if (await this.expiry.expireIfDue(manager, request)) return { settled: request, closed: 'expired' };
        if (request.status !== 'pending') return { closed: request.status };
        const problem = ineligibility(request, approver);
        if (problem) throw new Forbidden(problem);
        // The sets this vote can count in, by the memberships read above.
        const eligible = await eligibleSets(
          request.approverSets,
          { approverId: approver.approverId, delegatorId: request.delegatorId, agentOperator: request.agentOperator },
          async (group) => groups.includes(group),
        );
        if (!eligible.length) {
          throw new Forbidden(
            approver.viaGroup !== undefined
              ? `${approver.approverId} is no longer a member of group ${approver.viaGroup}`
              : `${approver.approverId} is not an approver of this request`,
          );
        }

        // Within what the policy offered for this call (a refused choice changes nothing).
        const standing = cmd.standing && cmd.decision === 'approve' ? chooseTerms(request.standingOffer, cmd.standing, request) : null;
        // Before the one-vote check, so that a replayed assertion is refused as what it is.
        const passkey = await this.passkeys.proveVote(manager, {
          request,
          approver,
          decision: cmd.decision,
          reason: cmd.reason,
          assertion: cmd.passkey,
          batch: cmd.batchProof,
          preference,
        });
        if (votes.some((v) => v.approverId === approver.approverId)) {
          throw new Conflict('already_voted', `${approver.approverId} has already voted on this request`);
        }
        const vote = Object.assign(new ApprovalVote(), {
          tenantId: request.tenantId,
          approvalId: request.id,
          approverId: approver.approverId,
          viaGroup: approver.viaGroup ?? null,
          decision: cmd.decision,
          eligibleSets: eligible,
          reason: cmd.reason,
          linkId: approver.linkId,
          standing,
          passkey,
        });
        const voteEvent = {
          ...auditContext(request),
          type: 'approval.vote',
          actor: `approver:${approver.approverId}`,
          data: {
            decision: cmd.decision,
            reason: cmd.reason,
            via_group: approver.viaGroup ?? null,
            link_id: approver.linkId,
            eligible_sets: eligible,
            ...(standing ? { standing: { ...standing } } : {}),
            ...(passkey ? { passkey: { ...passkey } } : {}),
          },
        };

        const all = [...votes, vote];
        const counted = tally(request, all);
        const { approve, deny, progress } = counted;
        const verdict = counted.verdict === 'pending' ? undefined : counted.verdict;
        let settled: ApprovalRequest | undefined;
        let standingApproval: DecideResult['standing_approval'];
        // The vote, its audit event and, when it decides the request, the settlement: one statement, one round trip.
        const inserted = this.requests.voteInsert(vote);
        const readBack = 'SELECT id, created_at FROM c0';
        const { sql, params } = verdict
          ? this.settlement.settlementStatement(
              request,
              verdict,
              `approver:${approver.approverId}`,
              { approvals: approve, denials: deny, quorum: request.quorum, approver_sets: progress },
              null,
              [inserted],
              [voteEvent],
              readBack,
            )
          : combinedStatement([inserted, (o) => this.audit.insertStatement([voteEvent], o)], readBack);
        // The vote's statement commits the transaction too (one round trip fewer), unless a standing approval follows it.
        const grantsStanding = verdict === 'approved' && this.standingApprovals.grants(all);
        await this.requests.recordVote(manager, vote, { sql, params }, { last: !grantsStanding });
        if (verdict) {
          settled = request;
          if (verdict === 'approved') standingApproval = await this.standingApprovals.grantInTransaction(manager, request, all);
        }
        return {
          settled,
          result: {
            auth_req_id: request.id,
            status: request.status,
            your_vote: cmd.decision,
            votes: { approve, deny },
            quorum: request.quorum,
            approver_sets: progress,
            ...(standingApproval ? { standing_approval: standingApproval } : {}),
          },
        };
      },
      [preferenceRead, personRead, groupsRead] as const,
    );

    if (outcome.settled) await this.settlement.afterCommit(outcome.settled);
    if (outcome.closed) {
      throw new Conflict('request_closed', `the approval request is ${outcome.closed} and takes no more votes`, {
        status: outcome.closed,
      });
    }
    return outcome.result!;
  }
}
