import { Injectable, Logger, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { EntityManager } from 'typeorm';
import { AuditLog } from '../audit/audit-log.service';
import { Outbox } from '../common/outbox/outbox.service';
import { ApprovalEvents } from './approval-events.service';
import { ApprovalJobs } from './approval-jobs.service';
import { ApprovalRequest, ApprovalStatus } from './approval-request.entity';
import { auditContext } from './approval-audit';
import { APPROVAL_CALLBACK_OWED, ApprovalCallbackOwedEvent } from './approval-outbox-events';

/**
 * What happens when a request leaves `pending`: the transition, its audit event and (when the
 * gateway is owed a callback) the outbox event that becomes the callback job, all inside the
 * caller's transaction; after the commit, waiters are woken.
 */
@Injectable()
export class ApprovalSettlement {
  private readonly logger = new Logger(ApprovalSettlement.name);

  constructor(
    private readonly audit: AuditLog,
    private readonly events: ApprovalEvents,
    private readonly jobs: ApprovalJobs,
    private readonly outbox: Outbox,
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
    if (request.callbackState === 'pending') {
      await this.outbox.append(manager, { topic: APPROVAL_CALLBACK_OWED, payload: { tenantId: request.tenantId, approvalId: request.id } satisfies ApprovalCallbackOwedEvent });
    }
  }

  async afterCommit(request: ApprovalRequest): Promise<void> {
    if (request.decidedAt) this.metrics?.approvalSettled(request.status, (request.decidedAt.getTime() - request.createdAt.getTime()) / 1000);
    if (request.callbackState === 'pending') this.outbox.committed();
    try {
      await this.events.publishSettled({ tenantId: request.tenantId, approvalId: request.id, status: request.status });
      if (request.status !== 'expired') await this.jobs.cancelExpiry(request.id);
    } catch (e) {
      // The decision and its callback's event are committed; only the wake-up of waiters and the removal of an expiry job (whose handler skips settled requests) failed.
      this.logger.error(`post-commit work for ${request.id} failed: ${(e as Error).message}`);
    }
  }
}
