import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createTransport, Transporter } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { ApproverChannel, OutgoingMessage } from '../approver-channel';
import type { Tried } from '../delivery-finish';
import type { Recipient } from '../directory/approver-directory.service';
import type { DeliveryToMake } from '../notification-deliveries.repository';
import type { SendOutcome } from '../push/push.channel';
import { SmtpFailure, SmtpThread } from './smtp-thread';

/** A domain fit for the right of a Message-ID (RFC 5322 dot-atom). */
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** The domain the Message-IDs are in: MAIL_FROM's, as nodemailer's own would be, else PUBLIC_URL's host name. */
export function messageIdDomain(config: Pick<AppConfig, 'MAIL_FROM' | 'PUBLIC_URL'>): string {
  const [sender] = addressparser(config.MAIL_FROM, { flatten: true });
  const candidates = [sender?.address?.split('@').pop() ?? '', new URL(config.PUBLIC_URL).hostname];
  return candidates.find((domain) => DOMAIN.test(domain)) ?? 'countersign.invalid';
}

/**
 * The headers that name an e-mail and its thread. Its Message-ID is the delivery's, the same on
 * every attempt: a message that a server took but whose reply was lost, sent again, is known for
 * the same message. Every e-mail about one request (or one review), to whom and in whichever
 * round, refers to the request, so a mail client shows its reminders and escalations as one
 * thread (the way GitHub's notifications thread on an issue).
 */
export function threadHeaders(delivery: Pick<DeliveryToMake, 'id' | 'approval_id' | 'review_id' | 'round'>, domain: string) {
  const about = delivery.approval_id ?? delivery.review_id!;
  const thread = `<${about}@${domain}>`;
  return {
    messageId: `<${about}.${delivery.id}@${domain}>`,
    references: thread,
    ...(delivery.round && delivery.round !== 'initial' ? { inReplyTo: thread } : {}),
  };
}

/**
 * Email over SMTP with nodemailer, in a thread of its own (SmtpThread). Without SMTP_URL the
 * channel is off, except in demo mode, where the message is written to the log so the demo's
 * approver can find the link.
 */
@Injectable()
export class EmailChannel extends ApproverChannel implements OnModuleDestroy {
  readonly name = 'email';
  private readonly logger = new Logger(EmailChannel.name);
  private readonly smtp?: SmtpThread;
  /** Demo mode without SMTP_URL: nodemailer's JSON transport, the message written to the log. */
  private readonly demoTransport?: Transporter;
  readonly enabled: boolean;
  private readonly domain: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    super();
    const timeouts = { connectionTimeout: config.NOTIFY_TIMEOUT_MS, greetingTimeout: config.NOTIFY_TIMEOUT_MS, socketTimeout: config.NOTIFY_TIMEOUT_MS };
    if (config.SMTP_URL) {
      const url = new URL(config.SMTP_URL);
      this.smtp = new SmtpThread({
        host: url.hostname,
        port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
        secure: url.protocol === 'smtps:',
        auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
        // Plain SMTP to a local catcher needs no STARTTLS; anything with credentials must not go in clear.
        requireTLS: !!url.username && url.protocol === 'smtp:',
        pool: true,
        maxConnections: 5,
        ...timeouts,
      });
    } else if (config.DEMO_MODE) {
      this.demoTransport = createTransport({ jsonTransport: true });
    }
    this.enabled = !!(this.smtp ?? this.demoTransport);
    this.domain = messageIdDomain(config);
  }

  reaches(recipient: Pick<Recipient, 'email'>): boolean {
    return !!recipient.email;
  }

  async deliver(delivery: DeliveryToMake, message: OutgoingMessage): Promise<Tried[]> {
    const outcome = await this.send({
      to: delivery.email!,
      subject: message.subject,
      text: message.text,
      html: message.html,
      ...threadHeaders(delivery, this.domain),
    });
    return [{ target: delivery.email!, outcome }];
  }

  async send(message: { to: string; subject: string; text: string; html: string } & Partial<ReturnType<typeof threadHeaders>>): Promise<SendOutcome> {
    if (!this.enabled) return { outcome: 'skipped', error: 'email is off (SMTP_URL is not set)' };
    const mail = { from: this.config.MAIL_FROM, ...message };
    try {
      if (this.smtp) await this.smtp.send(mail);
      else {
        await this.demoTransport!.sendMail(mail);
        this.logger.log(`demo mode, no SMTP_URL: email to ${message.to}\n${message.text}`);
      }
      return { outcome: 'sent' };
    } catch (e) {
      const err = e as SmtpFailure;
      // SMTP 5xx is a permanent refusal (bad address, policy); 4xx and network failures are worth retrying.
      const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500;
      return { outcome: permanent ? 'failed' : 'retry', error: `${err.responseCode ?? err.code ?? 'error'}: ${err.message}`.slice(0, 500) };
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.demoTransport?.close();
    await this.smtp?.close();
  }
}
