import type { Queue } from 'bullmq';
import type { NotificationChannel, NotificationRound } from './notification-delivery.entity';

/** The notification part's BullMQ queues. Payloads carry ids only; handlers load state from Postgres. */
export enum NotificationQueue {
  /** One job per request and round: works out who to notify and queues their deliveries. */
  Rounds = 'notification-rounds',
  /** One job per approver per channel per round (a notification_deliveries row). */
  Deliveries = 'notification-deliveries',
  /** One job per sampled call's review: its reviewers are told (reviews/notify-reviewers.usecase.ts). */
  Reviews = 'notification-reviews',
}

export interface RoundJobData {
  tenantId: string;
  approvalId: string;
  round: NotificationRound;
}

export interface DeliveryJobData {
  tenantId: string;
  deliveryId: string;
}

/** Deterministic ids: re-adding (the reconciler, a retried round) is a no-op while the job exists. */
export const roundJobId = (round: NotificationRound, approvalId: string) => `${round}-${approvalId}`;
export const deliveryJobId = (deliveryId: string) => `delivery-${deliveryId}`;

/** Outbox topic: a delivery row was written (queued); its job follows. Payload: DeliveryQueuedEvent. */
export const NOTIFICATION_QUEUED = 'notification.queued';

export interface DeliveryQueuedEvent {
  tenantId: string;
  deliveryId: string;
  channel: NotificationChannel;
  /** Its place in its round (0: the round's first delivery); absent for a review's delivery and a retried round's. */
  rank?: number;
}

/**
 * A round's deliveries are sent breadth-first across requests: every request's first delivery
 * before any request's second, and so on (BullMQ takes unprioritised jobs first, then by
 * priority). Under a burst each request reaches one approver at once instead of waiting behind
 * the whole backlog's other deliveries. Past this rank the order is first come, first served.
 */
const LAST_RANKED = 16;
export const deliveryPriority = (rank: number | null | undefined): number | undefined => (rank ? Math.min(rank, LAST_RANKED) : undefined);

/** A round job is named after its round, a delivery job after its channel: typed, so no other name can be added. */
export type RoundsQueue = Queue<RoundJobData, unknown, NotificationRound>;
export type DeliveriesQueue = Queue<DeliveryJobData, unknown, NotificationChannel>;
