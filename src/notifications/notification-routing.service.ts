import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { Admission, ApproverObligation, ApproverRouting, ReconcileScope } from '../approvals/approver-routing.port';
import { ApproverDirectory } from './directory/approver-directory.service';
import { NotificationDelivery } from './notification-delivery.entity';
import { NotificationJobs } from './notification-jobs.service';
import { NotifyApprovers } from './notify-approvers.usecase';

const PAGE = 1000;

/** The lifecycle's view of approvers and their notifications (see ApproverRouting). */
@Injectable()
export class NotificationRouting extends ApproverRouting {
  constructor(
    private readonly dataSource: DataSource,
    private readonly directory: ApproverDirectory,
    private readonly jobs: NotificationJobs,
    private readonly notify: NotifyApprovers,
  ) {
    super();
  }

  /**
   * The initial round is part of parking: its deliveries, their outbox events and its audit
   * event go into the park statement, so the notifications owed are durable the moment the
   * request is. The delivery jobs follow through the outbox; the delayed escalation and reminder
   * rounds from the approval.created event (NotificationJobs subscribes to both).
   */
  async admit(obligation: ApproverObligation): Promise<Admission> {
    const { problems, initial } = await this.directory.admit(obligation);
    if (problems.length) return { problems };
    return { problems, statement: (request, paramOffset) => this.notify.roundStatement(request, 'initial', initial, paramOffset) };
  }

  standing(tenantId: string, approverId: string): Promise<{ disabled: boolean; groups: string[] }> {
    return this.directory.standing(tenantId, approverId);
  }

  /**
   * Postgres says what is owed: a pending request whose round has no mark yet needs its round job
   * (delayed for escalation and reminder), and a queued delivery of a pending request needs its
   * delivery job. Re-adding existing jobs is a no-op; finished ones are replaced.
   */
  async reconcile(scope?: ReconcileScope): Promise<number> {
    let count = 0;
    // The scheduled pass: rounds of requests parked recently or whose round is overdue (initial rounds are always few).
    const inScope = scope
      ? `(r.notified_at IS NULL OR r.created_at > now() - make_interval(secs => ${scope.recentSeconds})` +
        ` OR (r.escalated_at IS NULL AND r.created_at + make_interval(secs => r.escalate_after + ${scope.graceSeconds}) < now())` +
        ` OR (r.reminded_at IS NULL AND r.created_at + make_interval(secs => r.remind_after + ${scope.graceSeconds}) < now()))`
      : 'true';
    for (let after = ''; ; ) {
      const page = await this.dataSource.manager
        .createQueryBuilder(ApprovalRequest, 'r')
        .select(['r.id', 'r.tenantId', 'r.createdAt', 'r.escalateAfter', 'r.remindAfter', 'r.notifiedAt', 'r.escalatedAt', 'r.remindedAt'])
        .where(`r.status = 'pending' AND r.expires_at > now() AND r.id > :after`, { after })
        .andWhere(
          `(r.notified_at IS NULL OR (r.escalate_after IS NOT NULL AND r.escalated_at IS NULL) OR (r.remind_after IS NOT NULL AND r.reminded_at IS NULL))`,
        )
        .andWhere(inScope)
        .orderBy('r.id')
        .limit(PAGE)
        .getMany();
      const owed = page.map((request) => ({
        request,
        rounds: [
          ...(!request.notifiedAt ? ['initial' as const] : []),
          ...(request.escalateAfter && !request.escalatedAt ? ['escalation' as const] : []),
          ...(request.remindAfter && !request.remindedAt ? ['reminder' as const] : []),
        ],
      }));
      await this.jobs.reviveRounds(owed);
      count += owed.reduce((n, o) => n + o.rounds.length, 0);
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    for (let after = '0'; ; ) {
      const page: Pick<NotificationDelivery, 'id' | 'tenantId' | 'channel'>[] = await this.dataSource.query(
        `SELECT d.id, d.tenant_id AS "tenantId", d.channel FROM notification_deliveries d
           JOIN approval_requests r ON r.id = d.approval_id
          WHERE d.status = 'queued' AND r.status = 'pending' AND d.id > $1 ORDER BY d.id LIMIT ${PAGE}`,
        [after],
      );
      await this.jobs.reviveDeliveries(page);
      count += page.length;
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    return count;
  }
}
