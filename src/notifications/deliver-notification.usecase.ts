import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { auditContext } from '../approvals/approval-audit';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { effectiveStatus } from '../approvals/approval-view';
import { ApprovalVote } from '../approvals/approval-vote.entity';
import { ApproverLinks } from '../approvals/approver-links.service';
import { AuditLog } from '../audit/audit-log.service';
import { ProtocolError } from '../common/errors/protocol-errors';
import { Approver } from './directory/approver.entity';
import { EmailChannel } from './email/email.channel';
import { approvalNotification } from './notification-content';
import { NotificationAttempt, NotificationDelivery } from './notification-delivery.entity';
import { DeliveryJobData } from './notification-queues';
import { PushChannel, SendOutcome } from './push/push.channel';
import { PushSubscriptions } from './push/push-subscriptions.service';

/** done: nothing (more) to do; retry: a transient failure, the queue retries with backoff. */
export type DeliveryResult = 'sent' | 'skipped' | 'failed' | 'retry' | 'done';

interface Tried {
  target: string;
  outcome: SendOutcome;
}

/**
 * Makes one delivery: loads the request and skips it when it is no longer pending (a decided
 * request sends nothing more) or the approver has voted; mints the approver's link; sends on the
 * delivery's channel; records every attempt. A push service's 404/410 drops that subscription.
 */
@Injectable()
export class DeliverNotification {
  constructor(
    private readonly dataSource: DataSource,
    private readonly links: ApproverLinks,
    private readonly email: EmailChannel,
    private readonly push: PushChannel,
    private readonly subscriptions: PushSubscriptions,
    private readonly audit: AuditLog,
  ) {}

  async execute({ tenantId, deliveryId }: DeliveryJobData, attempt: number, lastAttempt: boolean): Promise<DeliveryResult> {
    const delivery = await this.dataSource.manager.findOne(NotificationDelivery, { where: { id: deliveryId, tenantId } });
    if (!delivery || delivery.status !== 'queued') return 'done';
    const request = await this.dataSource.manager.findOne(ApprovalRequest, { where: { id: delivery.approvalId, tenantId } });
    const approver = await this.dataSource.manager.findOne(Approver, { where: { tenantId, id: delivery.approverId } });

    const skip = await this.reasonToSkip(request, approver, delivery);
    if (skip) return this.finish(delivery, attempt, [{ target: delivery.approverId, outcome: { outcome: 'skipped', error: skip } }], request);

    let link: { url: string };
    try {
      link = await this.links.mint({ tenantId, approvalId: delivery.approvalId, approverId: delivery.approverId, viaGroup: delivery.viaGroup ?? undefined });
    } catch (e) {
      // No longer eligible (e.g. the obligation changed hands): nothing to send.
      if (e instanceof ProtocolError) return this.finish(delivery, attempt, [{ target: delivery.approverId, outcome: { outcome: 'skipped', error: e.message } }], request);
      throw e;
    }
    const content = approvalNotification(request!, approver!, link, delivery.round);
    const tried = delivery.channel === 'email' ? await this.sendEmail(approver!, content) : await this.sendPush(request!, approver!, content);
    return this.finish(delivery, attempt, tried, request, lastAttempt);
  }

  private async reasonToSkip(request: ApprovalRequest | null, approver: Approver | null, delivery: NotificationDelivery): Promise<string | undefined> {
    if (!request) return 'the request no longer exists';
    const status = effectiveStatus(request);
    if (status !== 'pending') return `the request is ${status}`;
    if (!approver) return 'the approver is no longer in the directory';
    const voted = await this.dataSource.manager.exists(ApprovalVote, { where: { approvalId: request.id, approverId: approver.id } });
    if (voted) return 'the approver has voted';
    if (delivery.channel === 'email' && !approver.email) return 'the approver has no email address';
    return undefined;
  }

  private async sendEmail(approver: Approver, content: ReturnType<typeof approvalNotification>): Promise<Tried[]> {
    const outcome = await this.email.send({ to: approver.email!, subject: content.subject, text: content.text, html: content.html });
    return [{ target: approver.email!, outcome }];
  }

  private async sendPush(request: ApprovalRequest, approver: Approver, content: ReturnType<typeof approvalNotification>): Promise<Tried[]> {
    const subscriptions = await this.subscriptions.forApprover(request.tenantId, approver.id);
    if (!subscriptions.length) return [{ target: approver.id, outcome: { outcome: 'skipped', error: 'the approver has no push subscription' } }];
    const ttl = Math.ceil((request.expiresAt.getTime() - Date.now()) / 1000);
    // A topic is at most 32 base64url characters (RFC 8030 §5.4); the request id's prefix is unique enough.
    const topic = request.id.slice(0, 32);
    return Promise.all(
      subscriptions.map(async (s): Promise<Tried> => {
        const outcome = await this.push.send(s, content.push, ttl, topic);
        if (outcome.outcome === 'gone') await this.subscriptions.remove(s.id);
        if (outcome.outcome === 'sent') await this.subscriptions.succeeded(s.id);
        return { target: s.id, outcome };
      }),
    );
  }

  /**
   * Records the attempts and settles the delivery: sent if any target took it; retry while a
   * transient failure has attempts left; otherwise failed (or skipped when nothing was tried).
   */
  private async finish(delivery: NotificationDelivery, attempt: number, tried: Tried[], request: ApprovalRequest | null, lastAttempt = true): Promise<DeliveryResult> {
    const outcomes = tried.map((t) => t.outcome.outcome);
    const errors = tried.filter((t) => t.outcome.error).map((t) => t.outcome.error!);
    const result: DeliveryResult = outcomes.includes('sent')
      ? 'sent'
      : outcomes.includes('retry') && !lastAttempt
        ? 'retry'
        : outcomes.every((o) => o === 'skipped' || o === 'gone')
          ? 'skipped'
          : 'failed';
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(
        NotificationAttempt,
        tried.map((t) => ({
          tenantId: delivery.tenantId,
          deliveryId: delivery.id,
          channel: delivery.channel,
          attempt,
          target: t.target,
          status: t.outcome.outcome === 'retry' ? 'failed' : t.outcome.outcome,
          error: t.outcome.error ?? null,
        })),
      );
      await manager.update(
        NotificationDelivery,
        { id: delivery.id },
        {
          status: result === 'retry' ? 'queued' : result,
          attempts: attempt,
          lastError: errors.length ? errors.join('; ').slice(0, 1000) : null,
          sentAt: result === 'sent' ? new Date() : null,
        },
      );
      if (request && (result === 'sent' || result === 'failed')) {
        await this.audit.append(manager, {
          ...auditContext(request),
          type: result === 'sent' ? 'approval.notification_sent' : 'approval.notification_failed',
          actor: 'system',
          data: { approver: delivery.approverId, channel: delivery.channel, round: delivery.round, attempt, ...(errors.length ? { errors } : {}) },
        });
      }
    });
    return result;
  }
}
