import { Injectable } from '@nestjs/common';
import { ApprovalRequests, PendingDependency } from './approval-requests.repository';
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
    private readonly requests: ApprovalRequests,
    private readonly settlement: ApprovalSettlement,
  ) {}

  async forDelegations(tenantId: string, delegationIds: string[], reason: string): Promise<string[]> {
    if (delegationIds.length === 0) return [];
    return this.reject(tenantId, { delegationIds }, reason);
  }

  forDelegator(tenantId: string, delegatorId: string, reason: string): Promise<string[]> {
    return this.reject(tenantId, { delegatorId }, reason);
  }

  private async reject(tenantId: string, dependency: PendingDependency, reason: string): Promise<string[]> {
    const rejected = await this.requests.withPendingLocked(tenantId, dependency, async (requests, tx) => {
      for (const request of requests) {
        await this.settlement.settleInTransaction(tx, request, 'denied', 'system', { reason }, reason);
      }
      return requests;
    });
    await Promise.all(rejected.map((request) => this.settlement.afterCommit(request)));
    return rejected.map((r) => r.id);
  }
}
