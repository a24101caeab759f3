import { Injectable, Optional } from '@nestjs/common';
import { DomainMetrics } from '../common/metrics/domain-metrics';
import { auditContext } from '../approvals/approval-audit';
import { ApproverLinks } from '../approvals/approver-links.service';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { ReviewLinks } from '../authz/reviews/review-links.service';
import { SampledReviews } from '../authz/reviews/sampled-reviews.service';
import { ProtocolError } from '../common/errors/protocol-errors';
import { approvalNotification } from './notification-content';
import { DeliveryResult, finishDelivery, reasonToSkip, reasonToSkipReview, Tried } from './delivery-finish';
import { DeliveryToMake, NotificationDeliveries } from './notification-deliveries.repository';
import { OutgoingMessage } from './approver-channel';
import { ApproverChannels } from './approver-channels';
import { DeliveryJobData } from './notification-queues';
import { reviewNotification } from './reviews/review-content';

/** The audit event of a delivery that was sent or failed for good (`attempt`, and the errors if any). */
type DeliveryEvent = (result: 'sent' | 'failed', data: { attempt: number; errors?: string[] }) => AuditEntry;

/**
 * Makes one delivery: loads the request and skips it when it is no longer pending (a decided
 * request sends nothing more) or the approver has voted; mints the approver's link; sends on the
 * delivery's channel; records every attempt. A push service's 404/410 drops that subscription.
 * It is the hot path of the fan-out, so it reads in one query and writes in one statement.
 * A sampled review's delivery (to one reviewer on one channel) is made, recorded and retried the
 * same way, with the review's link and message.
 */
@Injectable()
export class DeliverNotification {
  constructor(
    private readonly deliveries: NotificationDeliveries,
    private readonly links: ApproverLinks,
    private readonly channels: ApproverChannels,
    private readonly audit: AuditLog,
    private readonly reviews: SampledReviews,
    private readonly reviewLinks: ReviewLinks,
    // Absent in a worker-only process, which serves no /metrics.
    @Optional() private readonly metrics?: DomainMetrics,
  ) {}

  async execute({ tenantId, deliveryId }: DeliveryJobData, attempt: number, lastAttempt: boolean): Promise<DeliveryResult> {
    const delivery = await this.deliveries.load(tenantId, deliveryId);
    if (!delivery || delivery.status !== 'queued') return 'done';
    if (delivery.review_id) return this.deliverReview(delivery, attempt, lastAttempt);
    const { request } = delivery;
    const event: DeliveryEvent | null =
      request &&
      ((result, data) => ({
        ...auditContext(request),
        type: result === 'sent' ? 'approval.notification_sent' : 'approval.notification_failed',
        actor: 'system',
        data: { approver: delivery.approver_id, channel: delivery.channel, round: delivery.round, ...data },
      }));

    const skip = reasonToSkip(request, delivery);
    if (skip) return this.finish(delivery, attempt, [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: skip } }], event);

    let link: { url: string };
    try {
      link = await this.links.mintFor(request!, delivery.approver_id, delivery.via_group ?? undefined);
    } catch (e) {
      // No longer eligible (e.g. separation of duties): nothing to send.
      if (e instanceof ProtocolError)
        return this.finish(delivery, attempt, [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: e.message } }], event);
      throw e;
    }
    const content = approvalNotification(request!, { displayName: delivery.display_name! }, link, delivery.round);
    // A topic is at most 32 base64url characters (RFC 8030 §5.4); the request id's prefix is unique enough.
    const tried = await this.send(delivery, { ...content, expiresAt: request!.expiresAt, topic: request!.id.slice(0, 32) });
    return this.finish(delivery, attempt, tried, event, lastAttempt);
  }

  /** One reviewer's notification of a sampled review on one channel: skipped once the review is answered or expired, or the reviewer is gone or disabled. */
  private async deliverReview(delivery: DeliveryToMake, attempt: number, lastAttempt: boolean): Promise<DeliveryResult> {
    const review = await this.reviews.get(delivery.tenant_id, delivery.review_id!);
    const event: DeliveryEvent | null =
      review &&
      ((result, data) => ({
        tenantId: review.tenantId,
        type: result === 'sent' ? 'review.notification_sent' : 'review.notification_failed',
        actor: 'system',
        agentId: review.agentId,
        delegatorId: review.delegatorId,
        mcpSessionId: review.mcpSessionId,
        data: { review_id: review.id, reviewer: delivery.approver_id, channel: delivery.channel, ...data },
      }));
    const skip = reasonToSkipReview(review, delivery);
    if (skip) return this.finish(delivery, attempt, [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: skip } }], event);
    const link = await this.reviewLinks.mint(review!, delivery.approver_id);
    const content = reviewNotification(review!, { displayName: delivery.display_name! }, link);
    const tried = await this.send(delivery, { ...content, expiresAt: review!.expiresAt, topic: review!.id.slice(0, 32) });
    return this.finish(delivery, attempt, tried, event, lastAttempt);
  }

  /** On the delivery's channel; one the service no longer has (taken out of ApproverChannels) is skipped. */
  private async send(delivery: DeliveryToMake, message: OutgoingMessage): Promise<Tried[]> {
    const channel = this.channels.named(delivery.channel);
    if (!channel) return [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: `no ${delivery.channel} channel on this service` } }];
    return channel.deliver(delivery, message);
  }

  /** Records the attempts and settles the delivery (delivery-finish.ts says how), in one statement. */
  private async finish(delivery: DeliveryToMake, attempt: number, tried: Tried[], event: DeliveryEvent | null, lastAttempt = true): Promise<DeliveryResult> {
    const finish = finishDelivery(delivery.channel, tried, lastAttempt);
    const { audited, errors } = finish;
    await this.deliveries.finish(
      delivery,
      attempt,
      finish,
      event && audited ? (offset) => this.audit.insertStatement([event(audited, { attempt, ...(errors.length ? { errors } : {}) })], offset) : undefined,
    );
    const { result } = finish;
    this.metrics?.notification(delivery.channel, result);
    return result;
  }
}
