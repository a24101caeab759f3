import { Injectable } from '@nestjs/common';
import { DataSource, ObjectLiteral } from 'typeorm';
import { Admission, ApproverObligation, ApproverRouting, ApproverStanding, ReconcileScope, StandingReads } from '../approvals/approver-routing.port';
import { ApproverDirectory } from './directory/approver-directory.service';
import { Approver, ApproverGroupMember } from './directory/approver.entity';
import { NotificationDelivery, NotificationRound } from './notification-delivery.entity';
import { NotificationJobs } from './notification-jobs.service';
import { NotifyApprovers } from './notify-approvers.usecase';

const PAGE = 1000;

/** A pending request's round times and which of its rounds have been queued (a notification_rounds row). */
interface RoundsOwed {
  id: string;
  tenant_id: string;
  created_at: Date;
  escalate_after: number | null;
  remind_after: number | null;
  notified: boolean;
  escalated: boolean;
  reminded: boolean;
}

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

  standing(tenantId: string, approverId: string): Promise<ApproverStanding> {
    return this.directory.standing(tenantId, approverId);
  }

  standingReads(tenantId: string, approverId: string): StandingReads {
    return this.directory.standingReads(tenantId, approverId);
  }

  standingFrom(rows: [ObjectLiteral[], ObjectLiteral[]]): ApproverStanding {
    return this.directory.standingFrom(rows as [Approver[], ApproverGroupMember[]]);
  }

  /**
   * Postgres says what is owed: a pending request whose round has no mark yet (no
   * notification_rounds row) needs its round job
   * (delayed for escalation and reminder), and a queued delivery of a pending request needs its
   * delivery job. Re-adding existing jobs is a no-op; finished ones are replaced.
   */
  async reconcile(scope?: ReconcileScope): Promise<number> {
    let count = 0;
    // The scheduled pass: rounds not queued at all, or due soon (initial rounds are written with the request: always few).
    const inScope = scope
      ? `(NOT notified` +
        ` OR (NOT escalated AND created_at + make_interval(secs => escalate_after) < now() + make_interval(secs => ${scope.dueWithinSeconds}))` +
        ` OR (NOT reminded AND created_at + make_interval(secs => remind_after) < now() + make_interval(secs => ${scope.dueWithinSeconds})))`
      : 'true';
    const marked = (round: NotificationRound) => `EXISTS (SELECT 1 FROM notification_rounds n WHERE n.approval_id = r.id AND n.round = '${round}')`;
    for (let after = ''; ;) {
      const page: RoundsOwed[] = await this.dataSource.query(
        `SELECT * FROM (
           SELECT r.id, r.tenant_id, r.created_at, r.escalate_after, r.remind_after,
                  ${marked('initial')} AS notified, ${marked('escalation')} AS escalated, ${marked('reminder')} AS reminded
             FROM approval_requests r WHERE r.status = 'pending' AND r.expires_at > now() AND r.id > $1) r
          WHERE (NOT notified OR (escalate_after IS NOT NULL AND NOT escalated) OR (remind_after IS NOT NULL AND NOT reminded)) AND ${inScope}
          ORDER BY id LIMIT ${PAGE}`,
        [after],
      );
      const owed = page.map((r) => ({
        request: { id: r.id, tenantId: r.tenant_id, createdAt: r.created_at, escalateAfter: r.escalate_after, remindAfter: r.remind_after },
        rounds: [
          ...(!r.notified ? ['initial' as const] : []),
          ...(r.escalate_after && !r.escalated ? ['escalation' as const] : []),
          ...(r.remind_after && !r.reminded ? ['reminder' as const] : []),
        ],
      }));
      await this.jobs.reviveRounds(owed);
      count += owed.reduce((n, o) => n + o.rounds.length, 0);
      if (page.length < PAGE) break;
      after = page[page.length - 1].id;
    }
    // The scheduled pass: deliveries queued for longer than the grace (their jobs come through the outbox).
    const overdue = scope ? `AND d.updated_at < now() - make_interval(secs => ${scope.graceSeconds})` : '';
    for (let after = '0'; ;) {
      const page: (Pick<NotificationDelivery, 'id' | 'tenantId' | 'channel'> & { rank: number | null })[] = await this.dataSource.query(
        // An approval's deliveries while it is pending; a sampled review's while it waits for an answer. An approval's
        // keeps its place among its round's deliveries still queued, so a rebuilt queue still sends breadth-first.
        `SELECT d.id, d.tenant_id AS "tenantId", d.channel,
                CASE WHEN d.approval_id IS NOT NULL THEN (row_number() OVER (PARTITION BY d.approval_id, d.round ORDER BY d.id) - 1)::int END AS rank
           FROM notification_deliveries d
           LEFT JOIN approval_requests r ON r.id = d.approval_id
           LEFT JOIN sampled_reviews s ON s.id = d.review_id
          WHERE d.status = 'queued' AND (r.status = 'pending' OR (s.status = 'pending' AND s.expires_at > now())) AND d.id > $1 ${overdue} ORDER BY d.id LIMIT ${PAGE}`,
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
