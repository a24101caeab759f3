import { createECDH, ECDH, randomBytes, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:https';
import { IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { importJWK, jwtVerify } from 'jose';
import { generate } from 'selfsigned';

/** http_ece ships no types; only decrypt is used. For aes128gcm the sender key and salt come from the body's header. */
interface HttpEce {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer | string }): Buffer;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ece = require('http_ece') as HttpEce;

export interface PushSubscriptionKeys {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface VapidClaims {
  sub: string;
  aud: string;
  exp: number;
  /** The application server's public key (base64url, uncompressed P-256 point) from the Authorization header. */
  k: string;
}

export interface PushDelivery {
  subscriptionId: string;
  /** The status this service answered the request with (201 unless respondWith queued something else). */
  status: number;
  payload: string;
  json: unknown;
  ttl: number;
  urgency?: string;
  topic?: string;
  vapid: VapidClaims;
  receivedAt: number;
  /** Which TLS connection it came over: 1 for the service's first, 2 for the next... (see secureConnections). */
  connection: number;
}

export interface PushAttempt {
  subscriptionId: string;
  status: number;
  receivedAt: number;
  /** Why the request was refused, when this service refused it on its own (404, 400, 401). */
  reason?: string;
}

interface Subscription {
  id: string;
  ecdh: ECDH;
  auth: Buffer;
}

type Waiter = { predicate: (d: PushDelivery) => boolean; resolve: (d: PushDelivery) => void };

class PushRejection extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_VAPID_LIFETIME_S = 24 * 60 * 60;

/**
 * A local HTTPS web push service (RFC 8030): checks VAPID (RFC 8292), decrypts aes128gcm payloads (RFC 8291)
 * with each subscription's private key, records what arrived and answers as told.
 */
export class PushService {
  /** Every request to /push/..., whatever the outcome, in arrival order. */
  readonly attempts: PushAttempt[] = [];
  /** Requests that passed VAPID and decrypted, with the status returned (201 by default). */
  readonly received: PushDelivery[] = [];
  /** Requests refused by the service's own checks (unknown subscription, bad VAPID, bad headers, undecryptable). */
  readonly rejected: PushAttempt[] = [];
  /** The self-signed certificate (PEM): give it to a client as `ca` so it trusts this service. */
  caPem!: string;
  origin!: string;
  port!: number;
  /** TLS connections opened to this service so far (handshakes completed). */
  secureConnections = 0;

  private server!: Server;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly queued = new Map<string, number[]>();
  private readonly waiters = new Set<Waiter>();
  private readonly connectionNumbers = new WeakMap<Socket, number>();

  private constructor(private readonly opts: { vapidPublicKey?: string }) {}

  static async start(opts: { vapidPublicKey?: string } = {}): Promise<PushService> {
    const svc = new PushService(opts);
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(Date.now() - 60_000),
      notAfterDate: new Date(Date.now() + 7 * 24 * 3600_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
            // A name that tests' fake DNS answers with 127.0.0.1 (the push goes to the checked address, TLS still checks the name).
            { type: 2, value: 'push.test' },
          ],
        },
      ],
    });
    svc.caPem = pems.cert;
    svc.server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => svc.handle(req, res));
    svc.server.on('secureConnection', (socket) => svc.connectionNumbers.set(socket, ++svc.secureConnections));
    await new Promise<void>((resolve, reject) => {
      svc.server.once('error', reject);
      svc.server.listen(0, '127.0.0.1', () => {
        svc.server.off('error', reject);
        resolve();
      });
    });
    svc.port = (svc.server.address() as AddressInfo).port;
    svc.origin = `https://127.0.0.1:${svc.port}`;
    return svc;
  }

  /** A new subscription, as a browser's PushManager.subscribe() would hand it to the application. */
  subscribe(): PushSubscriptionKeys {
    const id = randomUUID();
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subscriptions.set(id, { id, ecdh, auth });
    return {
      id,
      endpoint: `${this.origin}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    };
  }

  /** The next requests to this subscription are answered with these statuses, one each (then 201 again). */
  respondWith(subscriptionId: string, statuses: number[]): void {
    this.queued.set(subscriptionId, [...(this.queued.get(subscriptionId) ?? []), ...statuses]);
  }

  /** Resolves with the first delivery (already received or still to come) that matches. */
  waitFor(predicate: (d: PushDelivery) => boolean, timeoutMs = 10_000): Promise<PushDelivery> {
    const found = this.received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<PushDelivery>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (d) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(d);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = this.received.map((d) => `${d.subscriptionId} -> ${d.status}: ${JSON.stringify(d.payload.slice(0, 80))}`);
        const refused = this.rejected.map((a) => `${a.subscriptionId} -> ${a.status} (${a.reason})`);
        reject(
          new Error(
            `PushService: no matching delivery within ${timeoutMs} ms; deliveries so far: ${seen.length ? seen.join('; ') : '(none)'}` +
              (refused.length ? `; rejected: ${refused.join('; ')}` : ''),
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  clear(): void {
    this.attempts.length = 0;
    this.received.length = 0;
    this.rejected.length = 0;
    this.queued.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void this.process(req, Buffer.concat(chunks)).then(
        ({ status, subscriptionId }) => {
          this.attempts.push({ subscriptionId, status, receivedAt: Date.now() });
          res.writeHead(status, status === 201 ? { location: `${this.origin}/message/${randomUUID()}` } : {});
          res.end();
        },
        (err: unknown) => {
          const subscriptionId = this.subscriptionIdOf(req);
          const status = err instanceof PushRejection ? err.status : 500;
          const reason = err instanceof Error ? err.message : String(err);
          const attempt: PushAttempt = { subscriptionId, status, receivedAt: Date.now(), reason };
          this.attempts.push(attempt);
          this.rejected.push(attempt);
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(reason);
        },
      );
    });
  }

  private subscriptionIdOf(req: IncomingMessage): string {
    const m = /^\/push\/([^/?]+)/.exec(req.url ?? '');
    return m ? decodeURIComponent(m[1]) : '';
  }

  private async process(req: IncomingMessage, body: Buffer): Promise<{ status: number; subscriptionId: string }> {
    const subscriptionId = this.subscriptionIdOf(req);
    if (req.method !== 'POST' || !subscriptionId) throw new PushRejection(404, `no such resource: ${req.method} ${req.url}`);
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub) throw new PushRejection(404, `unknown subscription ${subscriptionId}`);

    const vapid = await this.verifyVapid(req.headers.authorization, this.originOf(req));

    if ((req.headers['content-encoding'] ?? '').toLowerCase() !== 'aes128gcm') {
      throw new PushRejection(415, `Content-Encoding must be aes128gcm, got ${req.headers['content-encoding'] ?? '(none)'}`);
    }
    const ttlHeader = req.headers['ttl'];
    if (typeof ttlHeader !== 'string' || !/^\d+$/.test(ttlHeader.trim())) {
      throw new PushRejection(400, `missing or invalid TTL header: ${ttlHeader ?? '(none)'}`);
    }

    let payload: string;
    try {
      payload = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8');
    } catch (e) {
      throw new PushRejection(400, `cannot decrypt aes128gcm payload: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      json = undefined;
    }

    const queue = this.queued.get(subscriptionId);
    const status = queue?.shift() ?? 201;
    const urgency = req.headers['urgency'];
    const topic = req.headers['topic'];
    const delivery: PushDelivery = {
      subscriptionId,
      status,
      payload,
      json,
      ttl: Number(ttlHeader.trim()),
      ...(typeof urgency === 'string' ? { urgency } : {}),
      ...(typeof topic === 'string' ? { topic } : {}),
      vapid,
      receivedAt: Date.now(),
      connection: this.connectionNumbers.get(req.socket) ?? 0,
    };
    this.received.push(delivery);
    for (const w of [...this.waiters]) if (w.predicate(delivery)) w.resolve(delivery);
    return { status, subscriptionId };
  }

  /** RFC 8292: `Authorization: vapid t=<JWT>, k=<base64url P-256 public key>`. */
  /** The origin a request was addressed to (its Host): VAPID's aud must name it. A host the certificate does not name is the service's own origin. */
  private originOf(req: IncomingMessage): string {
    const named = ['127.0.0.1', 'localhost', 'push.test'].map((h) => `${h}:${this.port}`);
    return named.includes(req.headers.host ?? '') ? `https://${req.headers.host}` : this.origin;
  }

  private async verifyVapid(authorization: string | undefined, origin: string): Promise<VapidClaims> {
    const m = /^vapid\s+(.+)$/i.exec(authorization ?? '');
    if (!m) throw new PushRejection(401, `Authorization is not a vapid credential: ${authorization ?? '(none)'}`);
    const params = new Map<string, string>();
    for (const part of m[1].split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
    }
    const t = params.get('t');
    const k = params.get('k');
    if (!t || !k) throw new PushRejection(401, 'vapid credential needs both t and k');

    const point = Buffer.from(k, 'base64url');
    if (point.length !== 65 || point[0] !== 0x04) throw new PushRejection(401, 'vapid k is not an uncompressed P-256 point');
    if (this.opts.vapidPublicKey && k !== this.opts.vapidPublicKey) {
      throw new PushRejection(401, 'vapid k is not the application server key this subscription was made for');
    }

    let payload: Record<string, unknown>;
    try {
      const key = await importJWK(
        { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
        'ES256',
      );
      ({ payload } = await jwtVerify(t, key, { algorithms: ['ES256'], audience: origin, requiredClaims: ['exp', 'aud', 'sub'] }));
    } catch (e) {
      throw new PushRejection(401, `vapid JWT rejected: ${(e as Error).message}`);
    }
    const exp = payload.exp as number;
    const nowS = Math.floor(Date.now() / 1000);
    if (exp <= nowS) throw new PushRejection(401, 'vapid JWT expired');
    if (exp > nowS + MAX_VAPID_LIFETIME_S) throw new PushRejection(401, 'vapid JWT exp is more than 24 hours ahead');
    const aud = payload.aud;
    if (aud !== origin) throw new PushRejection(401, `vapid aud ${JSON.stringify(aud)} is not ${origin}`);
    const sub = payload.sub;
    if (typeof sub !== 'string' || !(sub.startsWith('mailto:') || sub.startsWith('https:'))) {
      throw new PushRejection(401, `vapid sub must be a mailto: or https: URI, got ${JSON.stringify(sub)}`);
    }
    return { sub, aud, exp, k };
  }
}
