import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApprovalJobData } from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalSettlement } from './approval-settlement.service';

export type ExpireResult = 'expired' | 'not-pending' | 'not-due' | 'missing';

/** Expires a pending request whose time is up. Idempotent: a settled request is left alone. */
@Injectable()
export class ExpireApproval {
  constructor(
    private readonly dataSource: DataSource,
    private readonly settlement: ApprovalSettlement,
  ) {}

  async execute({ tenantId, approvalId }: ApprovalJobData): Promise<ExpireResult> {
    let expired: ApprovalRequest | undefined;
    const result = await this.dataSource.transaction(async (manager): Promise<ExpireResult> => {
      const request = await manager.findOne(ApprovalRequest, {
        where: { id: approvalId, tenantId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!request) return 'missing';
      if (request.status !== 'pending') return 'not-pending';
      if (!(await this.expireIfDue(manager, request))) return 'not-due';
      expired = request;
      return 'expired';
    });
    if (expired) await this.settlement.afterCommit(expired);
    return result;
  }

  /** For callers already holding the row lock: expires it if its time is up. */
  async expireIfDue(manager: EntityManager, request: ApprovalRequest): Promise<boolean> {
    if (request.status !== 'pending' || request.expiresAt.getTime() > Date.now()) return false;
    await this.settlement.settleInTransaction(manager, request, 'expired', 'system', {
      expires_at: request.expiresAt.toISOString(),
    });
    return true;
  }
}
