import { AddressInfo } from 'node:net';
import { ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  parsed: ParsedMail;
  receivedAt: number;
}

type Waiter = { predicate: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void };

/** A real SMTP server on 127.0.0.1 that accepts (or, on request, temporarily refuses) mail and keeps it parsed. */
export class MailSink {
  readonly messages: ReceivedMail[] = [];
  /** The messages it refused (failNext, failNextTo), as they were sent. */
  readonly refused: ReceivedMail[] = [];
  port!: number;
  url!: string;
  private server!: SMTPServer;
  private failures: number[] = [];
  /** Refusals owed to one recipient: the next messages to that address, whatever else arrives first. */
  private failuresTo = new Map<string, number[]>();
  private waiters = new Set<Waiter>();

  static async start(): Promise<MailSink> {
    const sink = new MailSink();
    sink.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 1000,
      onData: (stream, session, callback) => {
        // Reading the whole message before answering keeps the SMTP dialogue in step, even for a refusal.
        simpleParser(stream)
          .then((parsed) => {
            const mail: ReceivedMail = {
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              parsed,
              receivedAt: Date.now(),
            };
            const owed = session.envelope.rcptTo.map((r) => sink.failuresTo.get(r.address.toLowerCase())).find((codes) => codes?.length);
            const failCode = owed ? owed.shift() : sink.failures.shift();
            if (failCode !== undefined) {
              sink.refused.push(mail);
              const err = new Error('Temporary failure (MailSink.failNext)') as Error & { responseCode: number };
              err.responseCode = failCode;
              callback(err);
              return;
            }
            sink.messages.push(mail);
            callback(null, 'OK: queued by MailSink');
            sink.notify(mail);
          })
          .catch((err: Error) => {
            stream.resume();
            callback(Object.assign(new Error(`MailSink could not parse message: ${err.message}`), { responseCode: 554 }));
          });
      },
    });
    sink.server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const s = sink.server.server;
      s.once('error', reject);
      sink.server.listen(0, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    sink.port = (sink.server.server.address() as AddressInfo).port;
    sink.url = `smtp://127.0.0.1:${sink.port}`;
    return sink;
  }

  /** Resolves with the first message (already received or still to come) that matches. */
  waitFor(predicate: (m: ReceivedMail) => boolean, timeoutMs = 10_000): Promise<ReceivedMail> {
    const found = this.messages.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<ReceivedMail>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`MailSink: no matching message within ${timeoutMs} ms; subjects received so far: ${this.describe()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves once at least n messages (matching the predicate, if given) have arrived; returns them all. */
  waitForCount(n: number, predicate: (m: ReceivedMail) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    const matching = () => this.messages.filter(predicate);
    if (matching().length >= n) return Promise.resolve(matching());
    return new Promise<ReceivedMail[]>((resolve, reject) => {
      const waiter: Waiter = {
        predicate: (m) => predicate(m) && matching().length >= n,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(matching());
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `MailSink: expected ${n} matching message(s) within ${timeoutMs} ms, got ${matching().length}; subjects received so far: ${this.describe()}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The next n messages are refused at DATA with a temporary (4xx) reply. */
  failNext(n: number, code = 451): void {
    for (let i = 0; i < n; i++) this.failures.push(code);
  }

  /** The next n messages to `address` are refused at DATA with a temporary (4xx) reply; mail to others is taken. */
  failNextTo(address: string, n = 1, code = 451): void {
    const codes = this.failuresTo.get(address.toLowerCase()) ?? [];
    for (let i = 0; i < n; i++) codes.push(code);
    this.failuresTo.set(address.toLowerCase(), codes);
  }

  clear(): void {
    this.messages.length = 0;
    this.refused.length = 0;
    this.failures = [];
    this.failuresTo.clear();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(mail: ReceivedMail): void {
    for (const w of [...this.waiters]) {
      if (w.predicate(mail)) w.resolve(mail);
    }
  }

  private describe(): string {
    return this.messages.length ? this.messages.map((m) => JSON.stringify(m.parsed.subject ?? '')).join(', ') : '(none)';
  }
}
