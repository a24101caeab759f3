/**
 * The rules of one notification delivery (DeliverNotification applies them and writes the result
 * in one statement): whether it is sent at all, and what the channel's answers for each target
 * come to — sent if any target took it; retried while a transient failure has attempts left;
 * otherwise failed, or skipped when nothing could be tried. Push subscriptions that took it are
 * stamped and those that are gone are dropped. Plain TypeScript over plain data, so the rules can
 * be tested without a database, a mail server or a push service. A sampled review's delivery
 * follows the same rules, with its own reasons to skip.
 */
import { effectiveStatus } from '../approvals/approval-view';
import type { DeliveryStatus, NotificationChannel } from './notification-delivery.entity';
import type { SendOutcome } from './push/push.channel';

/** done: nothing (more) to do; retry: a transient failure, the queue retries with backoff. */
export type DeliveryResult = 'sent' | 'skipped' | 'failed' | 'retry' | 'done';

/** One target the delivery was tried on (an email address, a push subscription, or the approver when nothing was sent) and what came of it. */
export interface Tried {
  target: string;
  outcome: SendOutcome;
}

/** What the skip rules read of a delivery: its channel and the person as the directory has them now. */
export interface DeliveryFacts {
  channel: NotificationChannel;
  /** Null when the person is no longer in the directory. */
  display_name: string | null;
  email: string | null;
  /** The person's directory status ('disabled' for a disabled one). */
  approver_status: string | null;
  /** Whether the approver has voted on the request. */
  voted: boolean;
}

/** Why nothing is sent (undefined: send it). A decided or expired request sends nothing more. */
export function reasonToSkip(request: Parameters<typeof effectiveStatus>[0] | null, delivery: DeliveryFacts, now = Date.now()): string | undefined {
  if (!request) return 'the request no longer exists';
  const status = effectiveStatus(request, now);
  if (status !== 'pending') return `the request is ${status}`;
  if (delivery.display_name === null) return 'the approver is no longer in the directory';
  if (delivery.voted) return 'the approver has voted';
  if (delivery.channel === 'email' && !delivery.email) return 'the approver has no email address';
  return undefined;
}

/** Why a sampled review's notification is not sent (undefined: send it). */
export function reasonToSkipReview(review: { status: string; expiresAt: Date } | null, delivery: DeliveryFacts, now = Date.now()): string | undefined {
  if (!review) return 'the review no longer exists';
  if (review.status !== 'pending') return 'the review has been answered';
  if (review.expiresAt.getTime() <= now) return 'the review has expired';
  if (delivery.display_name === null) return 'the reviewer is no longer in the directory';
  if (delivery.approver_status === 'disabled') return 'the reviewer is disabled in the directory';
  if (delivery.channel === 'email' && !delivery.email) return 'the reviewer has no email address';
  return undefined;
}

/** How the delivery ends after this attempt's answers; `lastAttempt` says the queue will not run it again. */
export function deliveryResult(tried: Tried[], lastAttempt: boolean): Exclude<DeliveryResult, 'done'> {
  const outcomes = tried.map((t) => t.outcome.outcome);
  return outcomes.includes('sent')
    ? 'sent'
    : outcomes.includes('retry') && !lastAttempt
      ? 'retry'
      : outcomes.every((o) => o === 'skipped' || o === 'gone')
        ? 'skipped'
        : 'failed';
}

/** Everything the finish writes: the attempts, the delivery's new state, the push subscriptions to stamp and drop, and the audit event. */
export interface DeliveryFinish {
  result: Exclude<DeliveryResult, 'done'>;
  /** The delivery's new status: a retried delivery stays queued. */
  status: DeliveryStatus;
  /** Every error of the attempt, joined (at most 1,000 characters); null when there was none. */
  lastError: string | null;
  errors: string[];
  /** One attempt row per target; a transient failure is recorded as failed. */
  attempts: { target: string; status: 'sent' | 'failed' | 'gone' | 'skipped'; error: string | null }[];
  /** Push subscriptions that took it (their last success is now) and those that are gone (deleted). */
  took: string[];
  gone: string[];
  /** What the audit event says, for a delivery that was sent or failed for good (a skip or a retry is no event). */
  audited?: 'sent' | 'failed';
}

export function finishDelivery(channel: NotificationChannel, tried: Tried[], lastAttempt: boolean): DeliveryFinish {
  const result = deliveryResult(tried, lastAttempt);
  const errors = tried.filter((t) => t.outcome.error).map((t) => t.outcome.error!);
  const isPush = channel === 'push';
  const targets = (outcome: SendOutcome['outcome']) => (isPush ? tried.filter((t) => t.outcome.outcome === outcome).map((t) => t.target) : []);
  return {
    result,
    status: result === 'retry' ? 'queued' : result,
    lastError: errors.length ? errors.join('; ').slice(0, 1000) : null,
    errors,
    attempts: tried.map((t) => ({
      target: t.target,
      status: t.outcome.outcome === 'retry' ? 'failed' : t.outcome.outcome,
      error: t.outcome.error ?? null,
    })),
    took: targets('sent'),
    gone: targets('gone'),
    ...(result === 'sent' || result === 'failed' ? { audited: result } : {}),
  };
}
