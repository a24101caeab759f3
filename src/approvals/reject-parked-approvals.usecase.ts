import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalSettlement } from './approval-settlement.service';

/**
 * Rejects every pending request that depends on one of the given delegations (e.g. because the
 * delegation was revoked) or on one delegating human (e.g. disabled in the directory): each is
 * denied with `settled_reason`, its waiters woken and its gateway called back, exactly as if an
 * approver had denied it.
 */
@Injectable()
export class RejectParkedApprovals {
  constructor(
    private readonly dataSource: DataSource,
    private readonly settlement: ApprovalSettlement,
  ) {}

  async forDelegations(tenantId: string, delegationIds: string[], reason: string): Promise<string[]> {
    if (delegationIds.length === 0) return [];
    return this.reject(`r.tenant_id = :tenantId AND r.status = 'pending' AND r.delegation->>'delegation_id' = ANY(:ids)`, { tenantId, ids: delegationIds }, reason);
  }

  forDelegator(tenantId: string, delegatorId: string, reason: string): Promise<string[]> {
    return this.reject(`r.tenant_id = :tenantId AND r.status = 'pending' AND r.delegator_id = :delegatorId`, { tenantId, delegatorId }, reason);
  }

  private async reject(where: string, params: Record<string, unknown>, reason: string): Promise<string[]> {
    const rejected = await this.dataSource.transaction(async (manager) => {
      const requests = await manager.createQueryBuilder(ApprovalRequest, 'r').setLock('pessimistic_write').where(where, params).getMany();
      for (const request of requests) {
        await this.settlement.settleInTransaction(manager, request, 'denied', 'system', { reason }, reason);
      }
      return requests;
    });
    await Promise.all(rejected.map((request) => this.settlement.afterCommit(request)));
    return rejected.map((r) => r.id);
  }
}
