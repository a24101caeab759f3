import { Injectable, Logger, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { EntityManager } from 'typeorm';
import { AuditLog } from '../audit/audit-log.service';
import { ApprovalEvents } from './approval-events.service';
import { ApprovalJobs } from './approval-jobs.service';
import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { auditContext } from './approval-audit';

/**
 * What happens when a request leaves `pending`: the transition and its audit event inside the
 * caller's transaction, then (after commit) waiters are woken and the gateway's callback is
 * queued. If the process dies between commit and enqueue, the reconciler queues it at start-up.
 */
@Injectable()
export class ApprovalSettlement {
  private readonly logger = new Logger(ApprovalSettlement.name);

  constructor(
    private readonly audit: AuditLog,
    private readonly events: ApprovalEvents,
    private readonly jobs: ApprovalJobs,
    // Absent in a worker-only process, which serves no /metrics.
    @Optional() private readonly metrics?: DomainMetrics,
  ) {}

  async settleInTransaction(
    manager: EntityManager,
    request: ApprovalRequest,
    status: Exclude<ApprovalStatus, 'pending'>,
    actor: string,
    data: Record<string, unknown> = {},
    /** Why, when no approver decided it (e.g. delegation_revoked). */
    settledReason: string | null = null,
  ): Promise<void> {
    request.status = status;
    request.decidedAt = new Date();
    request.settledReason = settledReason;
    // The gateway that cancelled knows already; everyone else with a callback is told.
    request.callbackState = request.deliveryMode === 'poll' || status === 'cancelled' ? 'none' : 'pending';
    await manager.update(
      ApprovalRequest,
      { id: request.id, tenantId: request.tenantId },
      { status, decidedAt: request.decidedAt, callbackState: request.callbackState, settledReason },
    );
    await this.audit.append(manager, { ...auditContext(request), type: `approval.${status}`, actor, data });
  }

  async afterCommit(request: ApprovalRequest): Promise<void> {
    if (request.decidedAt) this.metrics?.approvalSettled(request.status, (request.decidedAt.getTime() - request.createdAt.getTime()) / 1000);
    try {
      await this.events.publishSettled({ tenantId: request.tenantId, approvalId: request.id, status: request.status });
      if (request.callbackState === 'pending') await this.jobs.scheduleCallback(request);
      if (request.status !== 'expired') await this.jobs.cancelExpiry(request.id);
    } catch (e) {
      // The decision is committed; the reconciler will redo what failed here.
      this.logger.error(`post-commit work for ${request.id} failed: ${(e as Error).message}`);
    }
  }
}
