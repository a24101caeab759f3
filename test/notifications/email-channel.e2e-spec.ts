import { Socket } from 'node:net';
import { EmailChannel } from '../../src/notifications/email/email.channel';
import { AppConfig } from '../../src/config/app-config';
import { MailSink } from '../support/mail-sink';

/**
 * The e-mail channel against a real SMTP server: the message as nodemailer composes it, with the
 * envelope its headers give, sent in one socket write after DATA (and the terminator), not one
 * per header, boundary and part.
 */
describe('EmailChannel over SMTP', () => {
  let sink: MailSink;
  let channel: EmailChannel;

  beforeAll(async () => {
    sink = await MailSink.start();
    channel = new EmailChannel({ SMTP_URL: sink.url, MAIL_FROM: 'Countersign <approvals@countersign.test>', NOTIFY_TIMEOUT_MS: 5_000 } as AppConfig);
  });
  afterAll(async () => {
    channel.onModuleDestroy();
    await sink.close();
  });

  const message = (to: string) => ({
    to,
    subject: 'Approve a transfer of 25 000 € — réf. ünïcode',
    text: `Approve: https://countersign.test/approve?t=${'x'.repeat(300)}\nLine two.`,
    html: `<p>Approve <a href="https://countersign.test/approve?t=${'x'.repeat(300)}">here</a></p>`.repeat(4),
  });

  /** What the channel writes to the SMTP server's socket while `work` runs. */
  async function writesTo(port: number, work: () => Promise<unknown>): Promise<string[]> {
    const writes: string[] = [];
    const original = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
      if (this.remotePort === port) writes.push(String(args[0]));
      return original.apply(this, args);
    } as Socket['write'];
    try {
      await work();
    } finally {
      Socket.prototype.write = original;
    }
    return writes;
  }

  it('delivers the message whole: headers, text and html parts, envelope from the bare addresses', async () => {
    await expect(channel.send(message('bob@acme.example'))).resolves.toEqual({ outcome: 'sent' });
    const mail = await sink.waitFor((m) => m.envelope.to.includes('bob@acme.example'));
    expect(mail.envelope).toEqual({ from: 'approvals@countersign.test', to: ['bob@acme.example'] });
    expect(mail.parsed.from?.value).toEqual([{ name: 'Countersign', address: 'approvals@countersign.test' }]);
    expect(mail.parsed.subject).toBe(message('x').subject);
    expect(mail.parsed.text?.trim()).toBe(message('x').text);
    expect(mail.parsed.html).toBe(message('x').html);
    expect(mail.parsed.messageId).toMatch(/@countersign\.test>$/);
  });

  it('writes the composed message to the socket in one write after DATA, then the terminator', async () => {
    await channel.send(message('warm@acme.example')); // the pool's connection is open
    const writes = await writesTo(sink.port, () => channel.send(message('carol@acme.example')));
    const data = writes.findIndex((w) => w === 'DATA\r\n');
    expect(data).toBeGreaterThan(-1);
    const after = writes.slice(data + 1);
    expect(after).toHaveLength(2);
    expect(after[0]).toMatch(/^From: Countersign <approvals@countersign\.test>\r\n/);
    expect(after[0]).toContain('Content-Type: text/html');
    expect(after[1]).toBe('.\r\n');
    await sink.waitFor((m) => m.envelope.to.includes('carol@acme.example'));
  });
});
