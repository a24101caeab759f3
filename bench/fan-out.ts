/**
 * Notification fan-out: requests parked at a steady rate, each naming three approvers who each
 * have an email address and a push subscription, delivered to a local SMTP server and a local
 * HTTPS push service run by this process. Reports deliveries/s and the time from a park's
 * response to its first notification received, beside a baseline measured in the same run:
 * nodemailer sending straight to the same SMTP server.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, Server } from 'node:https';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';

const AUTH_REQ_ID = /[A-Za-z0-9_-]{32}/;

/** Records when the first notification (of any channel) for each auth_req_id arrived. */
export class NotificationSinks {
  readonly firstSeen = new Map<string, number>();
  /** When the last notification (of any channel) for each auth_req_id arrived. */
  readonly lastSeen = new Map<string, number>();
  emails = 0;
  pushes = 0;
  /** When the last notification arrived. */
  lastAt = 0;
  private smtp?: SMTPServer;
  private https?: Server;
  smtpPort = 0;
  pushOrigin = '';
  caFile = '';

  reset(): void {
    this.firstSeen.clear();
    this.lastSeen.clear();
    this.emails = 0;
    this.pushes = 0;
    this.lastAt = 0;
  }

  private seen(id: string | undefined): void {
    this.lastAt = performance.now();
    if (id && !this.firstSeen.has(id)) this.firstSeen.set(id, performance.now());
    if (id) this.lastSeen.set(id, performance.now());
  }

  async start(dir: string): Promise<void> {
    this.smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, done) => {
        let data = '';
        stream.on('data', (d: Buffer) => (data += d.toString()));
        stream.on('end', () => {
          this.emails++;
          // The approval link (…/approve/<auth_req_id>?link=…) is in the text part, quoted-printable:
          // a soft line break (`=` at a line's end) can fall inside the id, so the breaks go first.
          this.seen(/\/approve\/([A-Za-z0-9_-]{32})/.exec(data.replace(/=\r?\n/g, ''))?.[1]);
          done();
        });
      },
    });
    await new Promise<void>((r) => this.smtp!.listen(0, '127.0.0.1', r));
    this.smtpPort = (this.smtp.server.address() as { port: number }).port;

    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    this.caFile = join(dir, 'push-ca.pem');
    writeFileSync(this.caFile, pems.cert);
    // The push path carries the request id only in the encrypted payload; the bench's subscriptions
    // are per approver, so a push is matched to its request by the Topic header (the id's prefix).
    this.https = createHttpsServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      req.resume();
      req.on('end', () => {
        this.pushes++;
        const topic = String(req.headers.topic ?? '');
        this.seen(topic.length === 32 && AUTH_REQ_ID.test(topic) ? topic : undefined);
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => this.https!.listen(0, '127.0.0.1', r));
    this.pushOrigin = `https://127.0.0.1:${(this.https.address() as { port: number }).port}`;
  }

  /** A browser-like subscription: a P-256 key and an auth secret (the sink does not decrypt; the tests do). */
  subscription(n: number) {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return { endpoint: `${this.pushOrigin}/push/${n}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.smtp ? this.smtp.close(() => r()) : r()));
    this.https?.closeAllConnections();
    await new Promise((r) => this.https?.close(r));
  }
}

/** Baseline: how fast nodemailer alone (pooled, 5 connections, as the service) puts mail into the same sink. */
export async function bareEmailRate(sinks: NotificationSinks, count: number): Promise<number> {
  const transport = createTransport({ host: '127.0.0.1', port: sinks.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 5 });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      transport.sendMail({ from: 'bench@countersign.test', to: `b${i}@bench.example`, subject: 'baseline', text: 'baseline', html: '<p>baseline</p>' }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return count / seconds;
}
