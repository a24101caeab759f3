import { Injectable } from '@nestjs/common';
import { ReviewLinkHolder, ReviewLinks } from '../../authz/reviews/review-links.service';
import { ReviewAnswer, ReviewRow as SampledReview, SampledReviews } from '../../authz/reviews/sampled-reviews.service';
import { ApproverDirectory } from '../directory/approver-directory.service';
import type { PageOutcome } from '../page/approval-page.service';

export interface ReviewPageModel {
  review: SampledReview;
  link: string;
  reviewer: string;
}

const failure = (status: number, title: string, message: string) => ({ ok: false as const, error: { status, title, message } });

/**
 * The reviewer's page for one sampled call: the link (signed, per reviewer, as long-lived as the
 * review) is the credential; the answer is taken once, and only while the directory still counts
 * the link's holder among the review's reviewers.
 */
@Injectable()
export class ReviewPage {
  constructor(
    private readonly links: ReviewLinks,
    private readonly reviews: SampledReviews,
    private readonly directory: ApproverDirectory,
  ) {}

  private async holder(id: string, link: string | undefined): Promise<{ ok: true; holder: ReviewLinkHolder } | ReturnType<typeof failure>> {
    if (!link) return failure(401, 'Link missing', 'Open this page from the link in your notification.');
    const holder = await this.links.verify(link);
    if (holder === 'expired') return failure(410, 'Link expired', 'This review link has expired.');
    if (holder === 'invalid') return failure(401, 'Link not valid', 'This link is damaged or was not issued by this service.');
    if (holder.reviewId !== id) return failure(404, 'No such review', 'No review matches this link.');
    return { ok: true, holder };
  }

  async view(id: string, link: string | undefined): Promise<PageOutcome<ReviewPageModel>> {
    const checked = await this.holder(id, link);
    if (!checked.ok) return checked;
    const review = await this.reviews.get(checked.holder.tenantId, id);
    if (!review) return failure(404, 'No such review', 'No review matches this link.');
    if (review.status === 'pending' && review.expiresAt.getTime() <= Date.now()) return failure(410, 'Review expired', 'This review has expired.');
    return { ok: true, model: { review, link: link!, reviewer: checked.holder.reviewerId } };
  }

  async submit(id: string, form: { link?: string; answer: ReviewAnswer; reason: string }): Promise<PageOutcome<ReviewPageModel>> {
    const checked = await this.holder(id, form.link);
    if (!checked.ok) return checked;
    const { holder } = checked;
    const review = await this.reviews.get(holder.tenantId, id);
    if (!review) return failure(404, 'No such review', 'No review matches this link.');
    const refused = await this.ineligibility(review, holder.reviewerId);
    if (refused) return failure(403, 'You may not review this call', refused);
    const answered = await this.reviews.answer({
      tenantId: holder.tenantId,
      reviewId: id,
      reviewerId: holder.reviewerId,
      jti: holder.jti,
      answer: form.answer,
      reason: form.reason,
    });
    if (!answered.ok)
      return failure(
        answered.status,
        answered.status === 409 ? 'Already reviewed' : answered.status === 410 ? 'Review expired' : 'No such review',
        answered.message,
      );
    return { ok: true, model: { review: answered.review, link: form.link!, reviewer: holder.reviewerId } };
  }

  /**
   * Why the link's holder may not answer now, or null. A link outlives the reviewer's standing, as
   * an approver link does (DecideApproval): the directory is read again at answer time, so a
   * reviewer disabled since, or no longer in the group the review named, is refused.
   */
  private async ineligibility(review: SampledReview, reviewerId: string): Promise<string | null> {
    const { disabled } = await this.directory.standing(review.tenantId, reviewerId);
    if (disabled) return `${reviewerId} is disabled in the approver directory and may not review calls.`;
    const reviewers = await this.directory.recipients(review.tenantId, review.reviewers, review.delegatorId);
    if (!reviewers.some((r) => r.approverId === reviewerId)) return `${reviewerId} is no longer one of this call's reviewers.`;
    return null;
  }
}
