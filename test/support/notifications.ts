import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateVAPIDKeys } from 'web-push';
import { MailSink, ReceivedMail } from './mail-sink';
import { PushService } from './push-service';

/** The real outside world of notifications for a test: an SMTP server, a web push service, and the app settings that point at them. */
export interface NotificationSinks {
  mail: MailSink;
  push: PushService;
  vapid: { publicKey: string; privateKey: string };
  /** Config overrides for testEnvironment().start(). */
  config: Record<string, string>;
  close(): Promise<void>;
}

export async function notificationSinks(): Promise<NotificationSinks> {
  const vapid = generateVAPIDKeys();
  const mail = await MailSink.start();
  const push = await PushService.start({ vapidPublicKey: vapid.publicKey });
  const caFile = join(mkdtempSync(join(tmpdir(), 'countersign-push-ca-')), 'ca.pem');
  writeFileSync(caFile, push.caPem);
  return {
    mail,
    push,
    vapid,
    config: {
      SMTP_URL: mail.url,
      MAIL_FROM: 'Countersign <approvals@countersign.test>',
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:security@countersign.test',
      // The test push service's own port: an entry without one means 443 only.
      PUSH_SERVICE_HOSTS: `127.0.0.1:${push.port}`,
      PUSH_CA_FILE: caFile,
      NOTIFY_BACKOFF_MS: '100',
      NOTIFY_MAX_ATTEMPTS: '4',
    },
    close: async () => {
      await mail.close();
      await push.close();
    },
  };
}

/** The approval link in a received email (its plain-text part). */
export function linkIn(mail: ReceivedMail): string {
  const match = /(https?:\/\/\S+\/approve\/\S+)/.exec(mail.parsed.text ?? '');
  if (!match) throw new Error(`no approval link in the email "${mail.parsed.subject}"`);
  return match[1];
}
