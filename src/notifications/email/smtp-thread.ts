import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';

/** What a failed send tells the channel: nodemailer's message, its error code and the server's SMTP reply code. */
export interface SmtpFailure {
  message: string;
  code?: string;
  responseCode?: number;
}

/** The thread's script, a plain CommonJS file beside this one (copied into dist by scripts/copy-assets.js). */
const SMTP_SENDER_WORKER = join(__dirname, 'smtp-sender.worker.cjs');

type Pending = { resolve: () => void; reject: (failure: SmtpFailure) => void };

/**
 * nodemailer's pooled SMTP transport, run in a worker thread: composing a message (MIME parts,
 * quoted-printable, the socket writes) is most of an e-mail's CPU, and here it neither blocks the
 * requests being answered nor competes with them for the one core a Node thread gets. A thread
 * that dies fails the sends it held (the delivery retries them: their Message-ID is the same on
 * every attempt) and the next send starts a new one.
 */
export class SmtpThread {
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(
    private readonly transport: SMTPPool.Options,
    private readonly script = SMTP_SENDER_WORKER,
  ) {}

  /**
   * Resolves once the server accepted the message; rejects with the failure otherwise. The message
   * is copied to the thread, so it holds plain values only (strings, as the e-mail channel gives).
   */
  send(mail: Mail.Options): Promise<void> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, mail });
    });
  }

  /** Stops the thread; sends still in flight fail (and are retried by their deliveries). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll({ message: 'the SMTP sender closed', code: 'ESHUTDOWN' });
    await worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.script, { workerData: { transport: this.transport } });
    // An idle sender must not keep the process alive; a send in flight is awaited by its delivery.
    worker.unref();
    worker.on('message', ({ id, error }: { id: number; error?: SmtpFailure }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (error) waiting?.reject(error);
      else waiting?.resolve();
    });
    worker.on('error', (e) => this.stopped(worker, { message: `the SMTP sender failed: ${e.message}`, code: 'ETHREAD' }));
    worker.on('exit', (code) => this.stopped(worker, { message: `the SMTP sender stopped (exit code ${code})`, code: 'ETHREAD' }));
    return worker;
  }

  /** The thread is gone: what it held fails, and the next send starts another. */
  private stopped(worker: Worker, failure: SmtpFailure): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.failAll(failure);
  }

  private failAll(failure: SmtpFailure): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) w.reject(failure);
  }
}
