import { Injectable } from '@nestjs/common';
import { ApprovalJobData } from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests, Transaction } from './approval-requests.repository';
import { ApprovalSettlement } from './approval-settlement.service';

export type ExpireResult = 'expired' | 'not-pending' | 'not-due' | 'missing';

/** Expires a pending request whose time is up. Idempotent: a settled request is left alone. */
@Injectable()
export class ExpireApproval {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly settlement: ApprovalSettlement,
  ) {}

  async execute({ tenantId, approvalId }: ApprovalJobData): Promise<ExpireResult> {
    let expired: ApprovalRequest | undefined;
    const result = await this.requests.withLocked(tenantId, approvalId, async (request, tx): Promise<ExpireResult> => {
      if (!request) return 'missing';
      if (request.status !== 'pending') return 'not-pending';
      if (!(await this.expireIfDue(tx, request))) return 'not-due';
      expired = request;
      return 'expired';
    });
    if (expired) await this.settlement.afterCommit(expired);
    return result;
  }

  /** For callers already holding the row lock: expires it if its time is up. */
  async expireIfDue(tx: Transaction, request: ApprovalRequest): Promise<boolean> {
    if (request.status !== 'pending' || request.expiresAt.getTime() > Date.now()) return false;
    await this.settlement.settleInTransaction(tx, request, 'expired', 'system', {
      expires_at: request.expiresAt.toISOString(),
    });
    return true;
  }
}
