import type { Queue } from 'bullmq';

/** One job per sampled call's review: tell its reviewers (by email and web push). Payload: ids only. */
export interface ReviewJobData {
  tenantId: string;
  reviewId: string;
}

export const reviewJobId = (reviewId: string) => `review-${reviewId}`;

export type ReviewsQueue = Queue<ReviewJobData, unknown, 'review'>;
