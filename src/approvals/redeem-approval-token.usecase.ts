import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLog } from '../audit/audit-log.service';
import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  InvalidGrant,
  ProtocolError,
  SlowDown,
} from '../common/errors/protocol-errors';
import { auditContext } from './approval-audit';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalSettlement } from './approval-settlement.service';
import { ApprovalTokens, OpenIdTokenResponse } from './approval-tokens.service';
import { ApprovalVote } from './approval-vote.entity';
import { denialOf } from './approval-view';
import { ExpireApproval } from './expire-approval.usecase';

/** How much a too-eager poller's interval grows (CIBA Core §11). */
export const SLOW_DOWN_STEP_SECONDS = 5;

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

/**
 * The CIBA poll: answers authorization_pending / slow_down / expired_token / access_denied, or
 * hands out the approval token exactly once. Another tenant's id is invalid_grant, as an
 * unknown one is.
 */
@Injectable()
export class RedeemApprovalToken {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly tokens: ApprovalTokens,
    private readonly settlement: ApprovalSettlement,
    private readonly expiry: ExpireApproval,
  ) {}

  execute(command: RedeemCommand & { clientId: string }): Promise<OpenIdTokenResponse>;
  execute(command: RedeemCommand): Promise<ApprovalTokenResponse>;
  async execute({ tenantId, approvalId, clientId }: RedeemCommand): Promise<ApprovalTokenResponse | OpenIdTokenResponse> {
    let expiredNow: ApprovalRequest | undefined;
    // Errors are returned, not thrown, so that the poll bookkeeping commits with them.
    const outcome = await this.dataSource.transaction(async (manager): Promise<ApprovalTokenResponse | OpenIdTokenResponse | ProtocolError> => {
      const request = await manager.findOne(ApprovalRequest, {
        where: { id: approvalId, tenantId },
        lock: { mode: 'pessimistic_write' },
      });
      // A request belongs to the API it came through and, for CIBA, to the client that made it.
      if (!request || (request.cibaClientId ?? undefined) !== clientId) return new InvalidGrant('unknown auth_req_id');
      if (request.deliveryMode === 'push') return new InvalidGrant('this request delivers its result by push, not at the token endpoint');
      if (await this.expiry.expireIfDue(manager, request)) expiredNow = request;

      switch (request.status) {
        case 'pending':
          return this.recordPoll(manager, request);
        case 'expired':
          return new ExpiredToken('the approval request has expired');
        case 'cancelled':
          return new AccessDenied('the approval request was cancelled');
        case 'denied': {
          const votes = await manager.find(ApprovalVote, { where: { approvalId: request.id }, order: { id: 'ASC' } });
          const denial = denialOf(request, votes);
          return new AccessDenied(denial.description, denial.details);
        }
        case 'approved': {
          if (request.tokenRedeemedAt) return new InvalidGrant('the approval token was already issued for this auth_req_id');
          // CIBA: an auth_req_id is good until expires_in, approved or not; a late poller gets expired_token.
          if (request.expiresAt.getTime() <= Date.now()) return new ExpiredToken('the approval request expired before its token was redeemed');
          const votes = await manager.find(ApprovalVote, { where: { approvalId: request.id }, order: { id: 'ASC' } });
          const jti = randomUUID();
          const response = clientId
            ? await this.tokens.openIdResponse(request, votes, jti)
            : await this.tokens.issue(request, votes, jti).then(
                (issued): ApprovalTokenResponse => ({ auth_req_id: request.id, approval_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn }),
              );
          await manager.update(ApprovalRequest, { id: request.id, tenantId }, { tokenRedeemedAt: new Date(), tokenJti: jti });
          await this.audit.append(manager, {
            ...auditContext(request),
            type: 'approval.token_redeemed',
            actor: clientId ? `client:${clientId}` : `gateway:${request.gatewayId}`,
            data: { jti, expires_in: response.expires_in, call_hash: request.callHash },
          });
          return response;
        }
      }
    });
    if (expiredNow) await this.settlement.afterCommit(expiredNow);
    if (outcome instanceof ProtocolError) throw outcome;
    return outcome;
  }

  /** A poll sooner than `interval` after the last one is slow_down, and the interval grows. */
  private async recordPoll(manager: import('typeorm').EntityManager, request: ApprovalRequest): Promise<ProtocolError> {
    const now = new Date();
    const tooSoon = request.lastPolledAt !== null && now.getTime() - request.lastPolledAt.getTime() < request.pollInterval * 1000;
    const pollInterval = tooSoon ? request.pollInterval + SLOW_DOWN_STEP_SECONDS : request.pollInterval;
    await manager.update(ApprovalRequest, { id: request.id, tenantId: request.tenantId }, { lastPolledAt: now, pollInterval });
    return tooSoon
      ? new SlowDown(`polled sooner than the interval; wait at least ${pollInterval} seconds between polls`, { interval: pollInterval })
      : new AuthorizationPending('the approvers have not decided yet', { interval: pollInterval });
  }
}
