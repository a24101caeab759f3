import { Injectable, Logger } from '@nestjs/common';
import { auditContext } from '../approvals/approval-audit';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { effectiveStatus } from '../approvals/approval-view';
import { excludedFromApproving } from '../vocabulary/approver-eligibility';
import { GetApproval } from '../approvals/get-approval.usecase';
import { AuditLog } from '../audit/audit-log.service';
import { Outbox } from '../common/outbox/outbox.service';
import { ApproverDirectory, Recipient } from './directory/approver-directory.service';
import { ApproverChannels } from './approver-channels';
import { NotificationRound } from './notification-delivery.entity';
import { NotificationJobs } from './notification-jobs.service';
import { RoundJobData } from './notification-queues';
import { NotificationRounds, OwedDelivery } from './notification-rounds.repository';
import type { ParkStatement } from '../approvals/approver-routing.port';

export type RoundResult = 'queued' | 'not-pending' | 'not-due' | 'missing';

const ROUND_EVENT = { initial: 'approval.notified', escalation: 'approval.escalated', reminder: 'approval.reminded' } as const;

/**
 * One notification round of a request: works out who to notify now (the approvers when parked,
 * the escalation approvers after escalate_after, whoever has not voted yet for a reminder), and
 * owes each of them one delivery per channel they can be reached on. The deliveries, their
 * outbox events (which become the delivery jobs), the round's mark (a notification_rounds row:
 * the reconciler redoes a round without one) and its audit event commit together.
 */
@Injectable()
export class NotifyApprovers {
  private readonly logger = new Logger(NotifyApprovers.name);

  constructor(
    private readonly rounds: NotificationRounds,
    private readonly approvals: GetApproval,
    private readonly directory: ApproverDirectory,
    private readonly channels: ApproverChannels,
    private readonly jobs: NotificationJobs,
    private readonly audit: AuditLog,
    private readonly outbox: Outbox,
  ) {}

  async execute({ tenantId, approvalId, round }: RoundJobData): Promise<RoundResult> {
    const request = await this.approvals.request(tenantId, approvalId);
    if (!request) return 'missing';
    if (effectiveStatus(request) !== 'pending') return 'not-pending';
    const due = this.jobs.roundsOf(request).find((r) => r.round === round)?.at;
    if (due === undefined) return 'missing';
    // A delayed job that ran early (clock skew between hosts) is retried by the queue's backoff.
    if (due > Date.now() + 250) return 'not-due';

    const queuedRounds = await this.rounds.queued(tenantId, approvalId);
    // The round committed already (this is a retry, or the reconciler's): queue what is still owed.
    if (queuedRounds.has(round)) {
      await this.jobs.scheduleDeliveries(await this.rounds.stillQueued(tenantId, approvalId, round));
      return 'queued';
    }

    const recipients = await this.recipientsFor(request, round, queuedRounds);
    // One statement (atomic): the deliveries and their outbox events, the round's mark and its audit event.
    const statement = this.roundStatement(request, round, recipients, 0);
    const event = this.audit.insertStatement(statement.events, statement.params.length);
    await this.rounds.commit({ ctes: [...statement.ctes, `round_event AS (${event.sql})`], params: [...statement.params, ...event.params] });
    this.outbox.committed();
    return 'queued';
  }

  /**
   * The deliveries a round owes with their outbox events (CTEs), and its audit event: for one
   * statement, the round job's or, for the initial round, the park statement itself.
   */
  roundStatement(request: ApprovalRequest, round: NotificationRound, recipients: Recipient[], paramOffset: number): ParkStatement {
    const owed: OwedDelivery[] = [];
    const reaching = recipients.map((r) => ({ r, channels: this.channels.reaching(r) }));
    const unreachable = reaching.filter((x) => !x.channels.length).map((x) => x.r.approverId);
    // Breadth-first (each person's first channel, then their second): the order ranks the delivery jobs (deliveryPriority).
    const widest = Math.max(0, ...reaching.map((x) => x.channels.length));
    for (let i = 0; i < widest; i++) {
      for (const { r, channels } of reaching) {
        const channel = channels[i];
        if (!channel) continue;
        owed.push({
          tenantId: request.tenantId,
          approvalId: request.id,
          round,
          reviewId: null,
          approverId: r.approverId,
          viaGroup: r.viaGroup,
          channel,
          status: 'queued',
          attempts: 0,
          lastError: null,
          sentAt: null,
        });
      }
    }
    if (unreachable.length) this.logger.warn(`${request.id} (${round}): no channel reaches ${unreachable.join(', ')}`);
    const { ctes, params } = this.rounds.rows(request.tenantId, request.id, round, owed, paramOffset);
    const events = [
      {
        ...auditContext(request),
        type: ROUND_EVENT[round],
        actor: 'system',
        data: {
          round,
          recipients: recipients.map((r) => ({ approver: r.approverId, via_group: r.viaGroup })),
          deliveries: owed.map((d) => ({ approver: d.approverId, channel: d.channel })),
          unreachable,
        },
      },
    ];
    return { ctes, params, events };
  }

  /** Who this round is for: never someone who has voted, nor someone separation of duties excludes. */
  private async recipientsFor(request: ApprovalRequest, round: NotificationRound, queuedRounds: Set<NotificationRound>): Promise<Recipient[]> {
    // Nobody has been asked before the initial round; a vote that races it is caught by the delivery.
    const votes = round === 'initial' ? [] : await this.approvals.votes(request.id);
    const voted = new Set(votes.map((v) => v.approverId));
    const excluded = (id: string) => voted.has(id) || excludedFromApproving(request, id);
    const refs =
      round === 'initial'
        ? request.approvers
        : round === 'escalation'
          ? request.escalateTo
          : [...request.approvers, ...(queuedRounds.has('escalation') ? request.escalateTo : [])];
    return this.directory.recipients(request.tenantId, refs, request.delegatorId, excluded);
  }
}
