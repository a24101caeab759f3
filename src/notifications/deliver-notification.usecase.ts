import { Injectable, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { DataSource } from 'typeorm';
import { auditContext } from '../approvals/approval-audit';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { ApproverLinks } from '../approvals/approver-links.service';
import { AuditLog } from '../audit/audit-log.service';
import { entityFromJson, insertStatement } from '../common/database/insert-statement';
import { ProtocolError } from '../common/errors/protocol-errors';
import { EmailChannel } from './email/email.channel';
import { approvalNotification, NotificationContent } from './notification-content';
import { DeliveryResult, finishDelivery, reasonToSkip, Tried } from './delivery-finish';
import { NotificationAttempt, NotificationChannel, NotificationRound } from './notification-delivery.entity';
import { DeliveryJobData } from './notification-queues';
import { PushChannel } from './push/push.channel';

/** A delivery with what sending it needs, loaded in one query. */
interface DeliveryRow {
  id: string;
  tenant_id: string;
  status: string;
  approval_id: string;
  round: NotificationRound;
  approver_id: string;
  via_group: string | null;
  channel: NotificationChannel;
  display_name: string | null;
  email: string | null;
  voted: boolean;
  subscriptions: { id: string; endpoint: string; p256dh: string; auth: string }[] | null;
  request: Record<string, unknown> | null;
}

/**
 * Makes one delivery: loads the request and skips it when it is no longer pending (a decided
 * request sends nothing more) or the approver has voted; mints the approver's link; sends on the
 * delivery's channel; records every attempt. A push service's 404/410 drops that subscription.
 * It is the hot path of the fan-out, so it reads in one query and writes in one statement.
 */
@Injectable()
export class DeliverNotification {
  constructor(
    private readonly dataSource: DataSource,
    private readonly links: ApproverLinks,
    private readonly email: EmailChannel,
    private readonly push: PushChannel,
    private readonly audit: AuditLog,
    // Absent in a worker-only process, which serves no /metrics.
    @Optional() private readonly metrics?: DomainMetrics,
  ) {}

  async execute({ tenantId, deliveryId }: DeliveryJobData, attempt: number, lastAttempt: boolean): Promise<DeliveryResult> {
    const [delivery]: DeliveryRow[] = await this.dataSource.query(
      `SELECT d.id, d.tenant_id, d.status, d.approval_id, d.round, d.approver_id, d.via_group, d.channel, a.display_name, a.email,
              EXISTS (SELECT 1 FROM approval_votes v WHERE v.approval_id = d.approval_id AND v.approver_id = d.approver_id) AS voted,
              CASE WHEN d.channel = 'push' THEN (
                SELECT json_agg(json_build_object('id', s.id, 'endpoint', s.endpoint, 'p256dh', s.p256dh, 'auth', s.auth) ORDER BY s.created_at)
                  FROM push_subscriptions s WHERE s.tenant_id = d.tenant_id AND s.approver_id = d.approver_id) END AS subscriptions,
              row_to_json(r) AS request
         FROM notification_deliveries d
         LEFT JOIN approvers a ON a.tenant_id = d.tenant_id AND a.id = d.approver_id
         LEFT JOIN approval_requests r ON r.id = d.approval_id AND r.tenant_id = d.tenant_id
        WHERE d.id = $1 AND d.tenant_id = $2`,
      [deliveryId, tenantId],
    );
    if (!delivery || delivery.status !== 'queued') return 'done';
    const request = delivery.request ? entityFromJson(this.dataSource, ApprovalRequest, delivery.request) : null;

    const skip = reasonToSkip(request, delivery);
    if (skip) return this.finish(delivery, attempt, [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: skip } }], request);

    let link: { url: string };
    try {
      link = await this.links.mintFor(request!, delivery.approver_id, delivery.via_group ?? undefined);
    } catch (e) {
      // No longer eligible (e.g. separation of duties): nothing to send.
      if (e instanceof ProtocolError)
        return this.finish(delivery, attempt, [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: e.message } }], request);
      throw e;
    }
    const content = approvalNotification(request!, { displayName: delivery.display_name! }, link, delivery.round);
    const tried = delivery.channel === 'email' ? await this.sendEmail(delivery, content) : await this.sendPush(request!, delivery, content);
    return this.finish(delivery, attempt, tried, request, lastAttempt);
  }

  private async sendEmail(delivery: DeliveryRow, content: NotificationContent): Promise<Tried[]> {
    const outcome = await this.email.send({ to: delivery.email!, subject: content.subject, text: content.text, html: content.html });
    return [{ target: delivery.email!, outcome }];
  }

  private async sendPush(request: ApprovalRequest, delivery: DeliveryRow, content: NotificationContent): Promise<Tried[]> {
    const subscriptions = delivery.subscriptions ?? [];
    if (!subscriptions.length) return [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: 'the approver has no push subscription' } }];
    const ttl = Math.ceil((request.expiresAt.getTime() - Date.now()) / 1000);
    // A topic is at most 32 base64url characters (RFC 8030 §5.4); the request id's prefix is unique enough.
    const topic = request.id.slice(0, 32);
    return Promise.all(subscriptions.map(async (s): Promise<Tried> => ({ target: s.id, outcome: await this.push.send(s, content.push, ttl, topic) })));
  }

  /** Records the attempts and settles the delivery (delivery-finish.ts says how), in one statement. */
  private async finish(delivery: DeliveryRow, attempt: number, tried: Tried[], request: ApprovalRequest | null, lastAttempt = true): Promise<DeliveryResult> {
    const { result, status, lastError, errors, attempts: rows, took, gone, event: eventType } = finishDelivery(delivery.channel, tried, lastAttempt);
    const attempts = insertStatement(
      this.dataSource,
      NotificationAttempt,
      rows.map((row) => ({ tenantId: delivery.tenant_id, deliveryId: delivery.id, channel: delivery.channel, attempt, ...row })),
    );
    const params: unknown[] = [...attempts.params];
    const p = (value: unknown) => `$${params.push(value)}`;
    let sql = `WITH attempts AS (${attempts.sql}),
      delivery AS (UPDATE notification_deliveries SET status = ${p(status)}, attempts = ${p(attempt)},
        last_error = ${p(lastError)}, sent_at = ${result === 'sent' ? 'now()' : 'NULL'}, updated_at = now()
        WHERE id = ${p(delivery.id)}),
      took AS (UPDATE push_subscriptions SET last_success_at = now() WHERE id = ANY(${p(took)}::uuid[])),
      dropped AS (DELETE FROM push_subscriptions WHERE id = ANY(${p(gone)}::uuid[])) `;
    if (request && eventType) {
      const event = this.audit.insertStatement(
        [
          {
            ...auditContext(request),
            type: eventType,
            actor: 'system',
            data: { approver: delivery.approver_id, channel: delivery.channel, round: delivery.round, attempt, ...(errors.length ? { errors } : {}) },
          },
        ],
        params.length,
      );
      sql += event.sql;
      params.push(...event.params);
    } else {
      sql += 'SELECT 1';
    }
    await this.dataSource.query(sql, params);
    this.metrics?.notification(delivery.channel, result);
    return result;
  }
}
