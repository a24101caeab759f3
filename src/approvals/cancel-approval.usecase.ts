import { Injectable } from '@nestjs/common';
import { Conflict, NotFound } from '../common/errors/protocol-errors';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalSettlement } from './approval-settlement.service';
import { ExpireApproval } from './expire-approval.usecase';

/** The agent gave up: a pending request is cancelled and its waiters are woken. */
@Injectable()
export class CancelApproval {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly settlement: ApprovalSettlement,
    private readonly expiry: ExpireApproval,
  ) {}

  async execute({ tenantId, approvalId, gatewayId }: { tenantId: string; approvalId: string; gatewayId: string }) {
    let settled: ApprovalRequest | undefined;
    let cancelled = false;
    const status = await this.requests.withLocked(tenantId, approvalId, async (request, tx) => {
      if (!request) throw new NotFound('no such approval request');
      if (await this.expiry.expireIfDue(tx, request)) settled = request;
      if (request.status !== 'pending') return request.status;
      await this.settlement.settleInTransaction(tx, request, 'cancelled', `gateway:${gatewayId}`);
      settled = request;
      cancelled = true;
      return request.status;
    });
    if (settled) await this.settlement.afterCommit(settled);
    if (!cancelled) throw new Conflict('request_closed', `the approval request is already ${status}`, { status });
    return { auth_req_id: approvalId, status };
  }
}
