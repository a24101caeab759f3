import { Injectable } from '@nestjs/common';
import { ReviewLinks } from '../../authz/reviews/review-links.service';
import { SampledReviews } from '../../authz/reviews/sampled-reviews.service';
import { ApproverDirectory } from '../directory/approver-directory.service';
import { EmailChannel } from '../email/email.channel';
import { PushChannel, SendOutcome } from '../push/push.channel';
import { PushSubscriptions } from '../push/push-subscriptions.service';
import { reviewNotification as reviewContent } from './review-content';
import type { ReviewJobData } from './review-notification-queue';

export type ReviewNotifyResult = 'sent' | 'retry' | 'done';

/**
 * Tells a sampled call's reviewers: each named reviewer (a group's members, the delegator) gets
 * their own review link by email and web push, as approvers are reached. Once told, the review is
 * stamped and the review.notified audit event says who was told on which channel. A run in which
 * nothing went out and every failure was transient is retried by the queue; a review answered or
 * expired meanwhile sends nothing.
 */
@Injectable()
export class NotifyReviewers {
  constructor(
    private readonly reviews: SampledReviews,
    private readonly links: ReviewLinks,
    private readonly directory: ApproverDirectory,
    private readonly email: EmailChannel,
    private readonly push: PushChannel,
    private readonly subscriptions: PushSubscriptions,
  ) {}

  async execute({ tenantId, reviewId }: ReviewJobData, lastAttempt: boolean): Promise<ReviewNotifyResult> {
    const review = await this.reviews.get(tenantId, reviewId);
    if (!review || review.notifiedAt || review.status !== 'pending' || review.expiresAt.getTime() <= Date.now()) return 'done';
    const recipients = await this.directory.recipients(tenantId, review.reviewers, review.delegatorId);
    const deliveries: { reviewer: string; channel: string; outcome: SendOutcome['outcome'] }[] = [];
    const unreachable: string[] = [];
    const ttl = Math.ceil((review.expiresAt.getTime() - Date.now()) / 1000);
    for (const r of recipients) {
      const link = await this.links.mint(review, r.approverId);
      const content = reviewContent(review, r, link);
      let reached = false;
      if (this.email.enabled && r.email) {
        const sent = await this.email.send({ to: r.email, subject: content.subject, text: content.text, html: content.html });
        deliveries.push({ reviewer: r.approverId, channel: 'email', outcome: sent.outcome });
        reached = true;
      }
      if (this.push.enabled && r.hasPush) {
        for (const s of await this.subscriptions.forApprover(tenantId, r.approverId)) {
          const sent = await this.push.send(s, content.push, ttl, review.id.slice(0, 32));
          deliveries.push({ reviewer: r.approverId, channel: 'push', outcome: sent.outcome });
        }
        reached = true;
      }
      if (!reached) unreachable.push(r.approverId);
    }
    const anySent = deliveries.some((d) => d.outcome === 'sent');
    if (!anySent && !lastAttempt && deliveries.some((d) => d.outcome === 'retry')) return 'retry';
    await this.reviews.notified(review, { recipients: recipients.map((r) => r.approverId), deliveries, unreachable });
    return anySent ? 'sent' : 'done';
  }
}
