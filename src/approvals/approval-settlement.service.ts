import { Injectable, Logger, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { EntityManager } from 'typeorm';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { combinedStatement, Statement } from '../common/database/insert-statement';
import { rowFilter } from '../common/database/select-entities';
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
    const { sql, params } = this.settlementStatement(request, status, actor, data, settledReason);
    await manager.query(sql, params);
  }

  /**
   * The transition as one statement (the row's UPDATE, its audit event, the callback's outbox
   * event), one round trip; `before` are the caller's own writes in the same statement, and
   * `eventsBefore` the audit events that precede the transition's in the chain (one INSERT keeps
   * their order). Sets the request's new state.
   */
  settlementStatement(
    request: ApprovalRequest,
    status: Exclude<ApprovalStatus, 'pending'>,
    actor: string,
    data: Record<string, unknown> = {},
    settledReason: string | null = null,
    before: ((paramOffset: number) => Statement)[] = [],
    eventsBefore: AuditEntry[] = [],
    select?: string,
  ): Statement {
    request.status = status;
    request.decidedAt = new Date();
    request.settledReason = settledReason;
    // The gateway that cancelled knows already; everyone else with a callback is told.
    request.callbackState = request.deliveryMode === 'poll' || status === 'cancelled' ? 'none' : 'pending';
    const { decidedAt, callbackState } = request;
    const parts = [
      ...before,
      (o: number): Statement => ({
        sql: `UPDATE approval_requests SET status = $${o + 1}, decided_at = $${o + 2}, callback_state = $${o + 3}, settled_reason = $${o + 4} WHERE id = $${o + 5} AND ${rowFilter(`tenant_id = $${o + 6}`)}`,
        params: [status, decidedAt, callbackState, settledReason, request.id, request.tenantId],
      }),
      (o: number) => this.audit.insertStatement([...eventsBefore, { ...auditContext(request), type: `approval.${status}`, actor, data }], o),
    ];
    if (callbackState === 'pending') {
      const event = { topic: APPROVAL_CALLBACK_OWED, payload: { tenantId: request.tenantId, approvalId: request.id } satisfies ApprovalCallbackOwedEvent };
      parts.push((o: number) => this.outbox.insertStatement([event], o));
    }
    return combinedStatement(parts, select);
  }

  async afterCommit(request: ApprovalRequest): Promise<void> {
    if (request.decidedAt) this.metrics?.approvalSettled(request.status, (request.decidedAt.getTime() - request.createdAt.getTime()) / 1000);
    if (request.callbackState === 'pending') this.outbox.committed();
    try {
      await this.events.publishSettled({ tenantId: request.tenantId, approvalId: request.id, status: request.status });
      if (request.status !== 'expired') await this.jobs.cancelExpiry(request);
    } catch (e) {
      // The decision and its callback's event are committed; only the wake-up of waiters and the removal of an expiry job (whose handler skips settled requests) failed.
      this.logger.error(`post-commit work for ${request.id} failed: ${(e as Error).message}`);
    }
  }
}
