import { Injectable } from '@nestjs/common';
import { ApproverChannel } from './approver-channel';
import type { Recipient } from './directory/approver-directory.service';
import { EmailChannel } from './email/email.channel';
import type { NotificationChannel } from './notification-delivery.entity';
import { PushChannel } from './push/push.channel';

/** The channels the service reaches people on, in the order a round owes them. */
@Injectable()
export class ApproverChannels {
  private readonly all: ApproverChannel[];

  constructor(email: EmailChannel, push: PushChannel) {
    this.all = [email, push];
  }

  /** The channels that are on and reach this person: one delivery is owed on each. */
  reaching(recipient: Pick<Recipient, 'email' | 'hasPush'>): NotificationChannel[] {
    return this.all.filter((c) => c.enabled && c.reaches(recipient)).map((c) => c.name);
  }

  named(name: NotificationChannel): ApproverChannel | undefined {
    return this.all.find((c) => c.name === name);
  }
}
