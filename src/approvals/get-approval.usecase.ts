import { Injectable } from '@nestjs/common';
import { NotFound } from '../common/errors/protocol-errors';
import { ApprovalEvents } from './approval-events.service';
import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalVote } from './approval-vote.entity';
import { approvalView, ApprovalViewBody } from './approval-view';

/** Reads a request; with `waitSeconds`, holds the answer until it is settled or the wait ends. */
@Injectable()
export class GetApproval {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly events: ApprovalEvents,
  ) {}

  async execute({ tenantId, approvalId, waitSeconds = 0 }: { tenantId: string; approvalId: string; waitSeconds?: number }): Promise<ApprovalViewBody> {
    if (waitSeconds <= 0) return this.read(tenantId, approvalId);
    const waiter = this.events.waitFor(approvalId, waitSeconds * 1000);
    try {
      const first = await this.read(tenantId, approvalId);
      if (first.status !== 'pending') return first;
      // Wake no later than the expiry, so a waiter sees "expired" on time.
      const untilExpiry = new Date(first.expires_at).getTime() - Date.now();
      const expiryTimer = untilExpiry < waitSeconds * 1000 ? setTimeout(waiter.cancel, Math.max(0, untilExpiry + 5)) : undefined;
      await waiter.settled;
      clearTimeout(expiryTimer);
      return this.read(tenantId, approvalId);
    } finally {
      waiter.cancel();
    }
  }

  private async read(tenantId: string, approvalId: string): Promise<ApprovalViewBody> {
    const request = await this.request(tenantId, approvalId);
    if (!request) throw new NotFound('no such approval request');
    return approvalView(request, await this.votes(approvalId));
  }

  /** The request as stored (null when the tenant has none by that id), for the parts that show or notify it. */
  request(tenantId: string, approvalId: string): Promise<ApprovalRequest | null> {
    return this.requests.find(tenantId, approvalId);
  }

  /** How many requests are in each status, over all tenants (for the ops gauges); every status is listed, 0 when none is in it. */
  countByStatus(): Promise<{ status: ApprovalStatus; n: number }[]> {
    return this.requests.countByStatus();
  }

  /** Its votes, in the order they were cast. */
  votes(approvalId: string): Promise<ApprovalVote[]> {
    return this.requests.votes(approvalId);
  }
}
