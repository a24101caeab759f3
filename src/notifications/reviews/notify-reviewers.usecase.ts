import { Injectable } from '@nestjs/common';
import { SampledReviews } from '../../authz/reviews/sampled-reviews.service';
import { Outbox } from '../../common/outbox/outbox.service';
import { ApproverDirectory } from '../directory/approver-directory.service';
import { ApproverChannels } from '../approver-channels';
import type { ReviewJobData } from './review-notification-queue';
import { OwedReviewDelivery, ReviewDeliveries } from './review-deliveries.repository';

export type ReviewNotifyResult = 'queued' | 'done';

/**
 * Owes a sampled call's reviewers their notifications: each named reviewer (a group's members,
 * the delegator) gets one delivery per channel that reaches them (email, web push), written with
 * the review's stamp and its review.notified audit event. The deliveries are then made, recorded
 * and retried one by one as an approval's are (DeliverNotification), so a reviewer whose mail
 * failed is tried again without telling the others twice. A review answered, expired or already
 * stamped owes nothing.
 */
@Injectable()
export class NotifyReviewers {
  constructor(
    private readonly reviews: SampledReviews,
    private readonly directory: ApproverDirectory,
    private readonly deliveries: ReviewDeliveries,
    private readonly channels: ApproverChannels,
    private readonly outbox: Outbox,
  ) {}

  async execute({ tenantId, reviewId }: ReviewJobData): Promise<ReviewNotifyResult> {
    const review = await this.reviews.get(tenantId, reviewId);
    if (!review || review.notifiedAt || review.status !== 'pending' || review.expiresAt.getTime() <= Date.now()) return 'done';
    const recipients = await this.directory.recipients(tenantId, review.reviewers, review.delegatorId);
    const owed: OwedReviewDelivery[] = [];
    const unreachable: string[] = [];
    for (const r of recipients) {
      const channels = this.channels.reaching(r);
      if (!channels.length) unreachable.push(r.approverId);
      for (const channel of channels) owed.push({ tenantId, reviewId, approverId: r.approverId, channel });
    }
    const queued = await this.reviews.notified(
      review,
      { recipients: recipients.map((r) => r.approverId), deliveries: owed.map((d) => ({ reviewer: d.approverId, channel: d.channel })), unreachable },
      (manager) => this.deliveries.owe(manager, owed),
    );
    if (!queued) return 'done';
    this.outbox.committed();
    return 'queued';
  }
}
