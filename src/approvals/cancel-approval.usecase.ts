import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Conflict, NotFound } from '../common/errors/protocol-errors';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalSettlement } from './approval-settlement.service';
import { ExpireApproval } from './expire-approval.usecase';

/** The agent gave up: a pending request is cancelled and its waiters are woken. */
@Injectable()
export class CancelApproval {
  constructor(
    private readonly dataSource: DataSource,
    private readonly settlement: ApprovalSettlement,
    private readonly expiry: ExpireApproval,
  ) {}

  async execute({ tenantId, approvalId, gatewayId }: { tenantId: string; approvalId: string; gatewayId: string }) {
    let settled: ApprovalRequest | undefined;
    let cancelled = false;
    const status = await this.dataSource.transaction(async (manager) => {
      const request = await manager.findOne(ApprovalRequest, { where: { id: approvalId, tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!request) throw new NotFound('no such approval request');
      if (await this.expiry.expireIfDue(manager, request)) settled = request;
      if (request.status !== 'pending') return request.status;
      await this.settlement.settleInTransaction(manager, request, 'cancelled', `gateway:${gatewayId}`);
      settled = request;
      cancelled = true;
      return request.status;
    });
    if (settled) await this.settlement.afterCommit(settled);
    if (!cancelled) throw new Conflict('request_closed', `the approval request is already ${status}`, { status });
    return { auth_req_id: approvalId, status };
  }
}
