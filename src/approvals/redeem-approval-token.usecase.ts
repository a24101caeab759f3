import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { AccessDenied, ProtocolError } from '../common/errors/protocol-errors';
import { auditContext } from './approval-audit';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalSettlement } from './approval-settlement.service';
import { ApprovalFacade, FacadeTokenResponse, firstApproval } from './approval-facade.port';
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
    // The re-evaluation reads delegations, the directory and the policy set through other pooled
    // connections, so it runs before the row is locked: a transaction holding a connection must
    // never wait for a second one (as many redeems at once as the pool has connections would each
    // hold one and wait forever). If the request was approved between the look and the lock, look again.
    for (;;) {
      const outcome = await this.redeemLocked(command, await this.reevaluateIfApproved(command));
      if (outcome !== APPROVED_MEANWHILE) return outcome;
    }
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
        // A request belongs to the API it came through and, for a facade, to the client that made it.
        const known = request && this.facade.clientIn(facadeRows)?.clientId === clientId ? request : null;
        const step = redeemStep(known, Date.now(), reevaluation);
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
          case 'deny':
          case 'issue': {
            const { request, reevaluation } = step;
            const actor = clientId ? `client:${clientId}` : `gateway:${request.gatewayId}`;
            const reevaluated = reevaluatedEvent(request, reevaluation, actor);
            if (step.kind === 'deny') {
              await this.requests.denyOnReevaluation(manager, request, reevaluation);
              await this.audit.append(manager, reevaluated, deniedEvent(request));
              deniedNow = request;
              const denial = denialOf(request, votes);
              return new AccessDenied(denial.description, denial.details);
            }
            const jti = randomUUID();
            const response = clientId
              ? await this.facade.tokenResponse(facadeRows, request, firstApproval(votes), (claims) => this.tokens.issue(request, votes, jti, claims))
              : await this.tokens.issue(request, votes, jti).then((issued): ApprovalTokenResponse => ({
                  auth_req_id: request.id,
                  approval_token: issued.token,
                  token_type: 'Bearer',
                  expires_in: issued.expiresIn,
                }));
            // The redemption and its audit events: one statement, one round trip.
            await this.requests.markRedeemed(manager, request, jti, reevaluation, (o) =>
              this.audit.insertStatement(
                [
                  reevaluated,
                  {
                    ...auditContext(request),
                    type: 'approval.token_redeemed',
                    actor,
                    data: { jti, expires_in: response.expires_in, call_hash: request.callHash },
                  },
                ],
                o,
              ),
            );
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
