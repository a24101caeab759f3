import { join } from 'node:path';
import type { AppConfig } from '../../src/config/app-config';
import { EmailChannel } from '../../src/notifications/email/email.channel';
import { SmtpFailure, SmtpThread } from '../../src/notifications/email/smtp-thread';
import { MailSink } from '../support/mail-sink';

/** The SMTP sender in its own thread, against a real SMTP server. */
describe('the SMTP sender thread', () => {
  let sink: MailSink;
  const threads: SmtpThread[] = [];
  const thread = (script?: string) => {
    const t = new SmtpThread({ host: '127.0.0.1', port: sink.port, secure: false, pool: true, maxConnections: 2 }, script);
    threads.push(t);
    return t;
  };
  const mail = (subject: string) => ({
    from: 'Countersign <approvals@countersign.test>',
    to: 'bob@acme.example',
    subject,
    text: `about ${subject}`,
    html: `<p>about ${subject}</p>`,
    messageId: `<${subject}.1@countersign.test>`,
    references: `<${subject}@countersign.test>`,
  });

  beforeAll(async () => {
    sink = await MailSink.start();
  });
  afterEach(async () => {
    await Promise.all(threads.splice(0).map((t) => t.close()));
    sink.clear();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('sends the message as given: the server receives it with its Message-ID and thread', async () => {
    await thread().send(mail('first'));
    const received = await sink.waitFor((m) => m.parsed.subject === 'first');
    expect(received.envelope.to).toEqual(['bob@acme.example']);
    expect(received.parsed.messageId).toBe('<first.1@countersign.test>');
    expect(received.parsed.references).toBe('<first@countersign.test>');
    expect(received.parsed.text?.trim()).toBe('about first');
  });

  it("brings a refusal back with the server's reply code, so the channel can tell permanent from temporary", async () => {
    sink.failNext(1, 550);
    const refused = await thread()
      .send(mail('refused'))
      .then(
        () => undefined,
        (e: SmtpFailure) => e,
      );
    expect(refused).toMatchObject({ responseCode: 550 });
    expect(refused!.message).toMatch(/MailSink\.failNext/);
  });

  it('fails the sends a dying thread held, and starts another for the next send', async () => {
    const sender = thread(join(__dirname, '../support/dying-smtp-sender.worker.cjs'));
    const outcomes = await Promise.allSettled([sender.send(mail('die')), sender.send(mail('held'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ETHREAD', message: expect.stringMatching(/exit code 3/) });

    await sender.send(mail('after'));
    await sink.waitFor((m) => m.parsed.subject === 'after');
    expect(sink.messages.map((m) => m.parsed.subject)).toEqual(['after']);
  });

  it('fails what it holds when closed, and refuses nothing afterwards: a later send starts a new thread', async () => {
    const sender = thread();
    const held = sender.send(mail('closing')).then(
      () => 'sent',
      (e: SmtpFailure) => e.code,
    );
    await sender.close();
    expect(await held).toBe('ESHUTDOWN');
    await sender.send(mail('reopened'));
    await sink.waitFor((m) => m.parsed.subject === 'reopened');
  });

  it('is how the approver e-mail channel sends: through the thread, a 5xx refusal a permanent failure', async () => {
    const sends = jest.spyOn(SmtpThread.prototype, 'send');
    const config = {
      SMTP_URL: sink.url,
      MAIL_FROM: 'Countersign <approvals@countersign.test>',
      PUBLIC_URL: 'http://127.0.0.1',
      NOTIFY_TIMEOUT_MS: 5000,
      DEMO_MODE: false,
    };
    const channel = new EmailChannel(config as AppConfig);
    try {
      expect(await channel.send(mail('via-channel'))).toEqual({ outcome: 'sent' });
      expect(sends).toHaveBeenCalledWith(
        expect.objectContaining({ to: 'bob@acme.example', from: config.MAIL_FROM, messageId: '<via-channel.1@countersign.test>' }),
      );
      await sink.waitFor((m) => m.parsed.subject === 'via-channel');
      sink.failNext(1, 550);
      expect(await channel.send(mail('refused-via-channel'))).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/^550: /) });
    } finally {
      sends.mockRestore();
      await channel.onModuleDestroy();
    }
  });
});
