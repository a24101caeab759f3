import type { Tried } from './delivery-finish';
import type { Recipient } from './directory/approver-directory.service';
import type { DeliveryToMake } from './notification-deliveries.repository';
import type { NotificationChannel } from './notification-delivery.entity';

/** A notification in every channel's form, and how long it matters. */
export interface OutgoingMessage {
  subject: string;
  text: string;
  html: string;
  /** The web push payload (small: push services cap it near 4 KB). */
  push: object;
  /** When it stops mattering (the request or the review expires): a push service may drop it after. */
  expiresAt: Date;
  /** Replaces an earlier message about the same thing (a push topic: at most 32 base64url characters, RFC 8030 §5.4). */
  topic: string;
}

/**
 * One way to reach a person. Rounds, deliveries, retries, attempt records and audit events are
 * the same for every channel; a channel only says whether it is on, whether it reaches a person,
 * and how it sends. A new channel (Slack, Teams) is one class extending this, listed in
 * ApproverChannels, with its name added to NotificationChannel (and the deliveries' CHECK).
 */
export abstract class ApproverChannel {
  abstract readonly name: NotificationChannel;
  abstract readonly enabled: boolean;
  /** Whether this person can be reached here (an address, a subscription). */
  abstract reaches(recipient: Pick<Recipient, 'email' | 'hasPush'>): boolean;
  /** Sends the message to the delivery's person: one answer per target (an address, each of their subscriptions). */
  abstract deliver(delivery: DeliveryToMake, message: OutgoingMessage): Promise<Tried[]>;
}
