/** Outbox topic: a sampled call's review was queued; the notifications part tells its reviewers. Payload: ReviewSampledEvent. */
export const REVIEW_SAMPLED = 'review.sampled';

export interface ReviewSampledEvent {
  tenantId: string;
  reviewId: string;
}

/** How long a sampled call waits for its review (and its links live): a day. */
export const REVIEW_TTL_SECONDS = 24 * 3600;
