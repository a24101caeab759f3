import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { AccessDenied, ProtocolError } from '../common/errors/protocol-errors';
import { auditContext } from './approval-audit';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalVote } from './approval-vote.entity';
import { ApprovalSettlement } from './approval-settlement.service';
import { ApprovalFacade, FacadeRows, FacadeTokenResponse, firstApproval } from './approval-facade.port';
import { ApprovalTokens } from './approval-tokens.service';
import { denialOf } from './approval-view';
import { ExpireApproval } from './expire-approval.usecase';
import { Reevaluation, REEVALUATION_DENIED, RedeemReevaluation } from './redeem-reevaluation.port';
import { awaitsToken, PollingStates, recordPoll, redeemStep } from './token-redemption';

export interface RedeemCommand {
  tenantId: string;
  approvalId: string;
  /** The registered CIBA client polling the token endpoint; absent on the gateway API. */
  clientId?: string;
}

export interface ApprovalTokenResponse {
  auth_req_id: string;
  approval_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** The audit event of a redeem's re-evaluation: the repeated decision, its reasons and policy version. */
/** The request turned approved after the unlocked look: its re-evaluation is still to be done. */
const APPROVED_MEANWHILE = Symbol('approved meanwhile');

export function reevaluatedEvent(request: ApprovalRequest, reevaluation: Reevaluation, actor: string): AuditEntry {
  return { ...auditContext(request), type: 'approval.reevaluated', actor, data: { ...reevaluation } };
}

/** The event of the request's move from approved to denied, as every settlement writes one. */
export function deniedEvent(request: ApprovalRequest): AuditEntry {
  return {
    ...auditContext(request),
    type: 'approval.denied',
    actor: 'system',
    data: { reason: REEVALUATION_DENIED, reasons: request.reevaluation?.reasons ?? [] },
  };
}

/** Who redeems: the facade's client, or the gateway the request came through. */
function actorOf(request: ApprovalRequest, clientId: string | undefined): string {
  return clientId ? `client:${clientId}` : `gateway:${request.gatewayId}`;
}

/**
 * The CIBA poll: answers authorization_pending / slow_down / expired_token / access_denied, or
 * hands out the approval token exactly once, after the call is judged again with the approval
 * counted as given (RedeemReevaluation): what would deny it now denies it still. Another tenant's id is invalid_grant, as an
 * unknown one is.
 */
@Injectable()
export class RedeemApprovalToken {
  constructor(
    private readonly audit: AuditLog,
    private readonly tokens: ApprovalTokens,
    private readonly settlement: ApprovalSettlement,
    private readonly expiry: ExpireApproval,
    private readonly reevaluation: RedeemReevaluation,
    private readonly facade: ApprovalFacade,
    private readonly polling: PollingStates,
    private readonly requests: ApprovalRequests,
  ) {}

  execute(command: RedeemCommand & { clientId: string }): Promise<FacadeTokenResponse>;
  execute(command: RedeemCommand): Promise<ApprovalTokenResponse>;
  async execute(command: RedeemCommand): Promise<ApprovalTokenResponse | FacadeTokenResponse> {
    // First an unlocked look: the request, its votes and the facade's rows, in one round trip. An
    // approved request that still awaits its token is judged again and, still allowed, gets its token
    // through a conditional update (no lock, two round trips in all). Anything else, and a redeem that
    // lost the update to another, goes the locked way.
    const { tenantId, approvalId, clientId } = command;
    const look = await this.requests.look(tenantId, approvalId, [this.facade.clientRead({ id: approvalId, tenantId })]);
    const [facadeRows] = look.alsoRead;
    const request = this.ownedBy(clientId, look.request, facadeRows);
    // The re-evaluation reads delegations, the directory and the policy set through other pooled
    // connections, so it runs before any row is locked: a transaction holding a connection must
    // never wait for a second one (as many redeems at once as the pool has connections would each
    // hold one and wait forever).
    let reevaluation: Reevaluation | undefined;
    const looked = redeemStep(request, Date.now());
    if (looked.kind === 'reevaluate') {
      reevaluation = await this.reevaluation.reevaluate(looked.request);
      const step = redeemStep(looked.request, Date.now(), reevaluation);
      if (step.kind === 'issue') {
        const issued = await this.issueUnlocked(step.request, look.votes, facadeRows, clientId, reevaluation);
        if (issued) return issued;
      }
    }
    // If the request was approved between the look and the lock, look again.
    for (;;) {
      const outcome = await this.redeemLocked(command, reevaluation);
      if (outcome !== APPROVED_MEANWHILE) return outcome;
      reevaluation = await this.reevaluateIfApproved(command);
    }
  }

  /** A request belongs to the API it came through and, for a facade, to the client that made it: anyone else's reads as unknown. */
  private ownedBy(clientId: string | undefined, request: ApprovalRequest | null, facadeRows: FacadeRows): ApprovalRequest | null {
    return request && this.facade.clientIn(facadeRows)?.clientId === clientId ? request : null;
  }

  /** The token, issued with no lock held; undefined when another redeem marked the request first (or it is no longer approved). */
  private async issueUnlocked(
    request: ApprovalRequest,
    votes: ApprovalVote[],
    facadeRows: FacadeRows,
    clientId: string | undefined,
    reevaluation: Reevaluation,
  ): Promise<ApprovalTokenResponse | FacadeTokenResponse | undefined> {
    const { response, jti, events } = await this.issue(request, votes, facadeRows, clientId, reevaluation);
    const marked = await this.requests.markRedeemedIfAwaited(request, jti, reevaluation, (source, o) => this.audit.insertStatementIf(source, events, o));
    // The signed token of a redeem that did not mark the request is never handed out.
    return marked ? response : undefined;
  }

  /** The approval token (or the facade's response carrying it) and the audit events of its redemption, which commit with the mark. */
  private async issue(
    request: ApprovalRequest,
    votes: ApprovalVote[],
    facadeRows: FacadeRows,
    clientId: string | undefined,
    reevaluation: Reevaluation,
  ): Promise<{ response: ApprovalTokenResponse | FacadeTokenResponse; jti: string; events: AuditEntry[] }> {
    const actor = actorOf(request, clientId);
    const jti = randomUUID();
    const response = clientId
      ? await this.facade.tokenResponse(facadeRows, request, firstApproval(votes), (claims) => this.tokens.issue(request, votes, jti, claims))
      : await this.tokens.issue(request, votes, jti).then((issued): ApprovalTokenResponse => ({
          auth_req_id: request.id,
          approval_token: issued.token,
          token_type: 'Bearer',
          expires_in: issued.expiresIn,
        }));
    const redeemed: AuditEntry = {
      ...auditContext(request),
      type: 'approval.token_redeemed',
      actor,
      data: { jti, expires_in: response.expires_in, call_hash: request.callHash },
    };
    return { response, jti, events: [reevaluatedEvent(request, reevaluation, actor), redeemed] };
  }

  /** The call judged again, now, when the request is approved and its token not yet issued. */
  private async reevaluateIfApproved({ tenantId, approvalId }: RedeemCommand): Promise<Reevaluation | undefined> {
    const request = await this.requests.find(tenantId, approvalId);
    if (!request || !awaitsToken(request, Date.now())) return undefined;
    return this.reevaluation.reevaluate(request);
  }

  private async redeemLocked(
    { tenantId, approvalId, clientId }: RedeemCommand,
    reevaluation: Reevaluation | undefined,
  ): Promise<ApprovalTokenResponse | FacadeTokenResponse | typeof APPROVED_MEANWHILE> {
    let expiredNow: ApprovalRequest | undefined;
    let deniedNow: ApprovalRequest | undefined;
    // Errors are returned, not thrown, so that the poll bookkeeping commits with them.
    const outcome = await this.requests.withLocked(
      tenantId,
      approvalId,
      async (request, manager, votes, [facadeRows]): Promise<ApprovalTokenResponse | FacadeTokenResponse | ProtocolError | typeof APPROVED_MEANWHILE> => {
        const step = redeemStep(this.ownedBy(clientId, request, facadeRows), Date.now(), reevaluation);
        switch (step.kind) {
          case 'answer':
            return step.error;
          case 'expire':
            if (await this.expiry.expireIfDue(manager, step.request)) expiredNow = step.request;
            return step.error;
          case 'poll':
            return recordPoll(this.polling, manager, step.request, new Date());
          case 'explain_denial': {
            const denial = denialOf(step.request, votes);
            return new AccessDenied(denial.description, denial.details);
          }
          case 'reevaluate':
            return APPROVED_MEANWHILE;
          case 'deny': {
            const { request, reevaluation } = step;
            const actor = actorOf(request, clientId);
            await this.requests.denyOnReevaluation(manager, request, reevaluation);
            await this.audit.append(manager, reevaluatedEvent(request, reevaluation, actor), deniedEvent(request));
            deniedNow = request;
            const denial = denialOf(request, votes);
            return new AccessDenied(denial.description, denial.details);
          }
          case 'issue': {
            const { request, reevaluation } = step;
            const { response, jti, events } = await this.issue(request, votes, facadeRows, clientId, reevaluation);
            // The redemption and its audit events: one statement, one round trip.
            await this.requests.markRedeemed(manager, request, jti, reevaluation, (o) => this.audit.insertStatement(events, o));
            return response;
          }
        }
      },
      [this.facade.clientRead({ id: approvalId, tenantId })],
    );
    if (expiredNow) await this.settlement.afterCommit(expiredNow);
    // Wakes whoever waits on the request's status; the gateway is told here, so no callback is owed.
    if (deniedNow) await this.settlement.afterCommit(deniedNow);
    if (outcome instanceof ProtocolError) throw outcome;
    return outcome;
  }
}
