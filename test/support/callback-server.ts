import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';

export interface ReceivedCallback {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: any;
  at: number;
}

/** Answers the n-th (1-based) request to a path; return nothing to leave the request unanswered. */
export type Responder = (res: ServerResponse, n: number, req: ReceivedCallback) => void;

const ok: Responder = (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{}');
};

/** A gateway's callback endpoint: a real HTTP server that records every request it receives. */
export class CallbackServer {
  readonly received: ReceivedCallback[] = [];
  private readonly responders = new Map<string, Responder>();
  private server!: Server;
  url!: string;

  static async start(): Promise<CallbackServer> {
    const s = new CallbackServer();
    s.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: unknown = rawBody;
        try {
          body = rawBody ? JSON.parse(rawBody) : undefined;
        } catch {
          /* not JSON */
        }
        const path = (req.url ?? '/').split('?')[0];
        const entry: ReceivedCallback = { method: req.method ?? '', path, headers: req.headers, rawBody, body, at: Date.now() };
        s.received.push(entry);
        (s.responders.get(path) ?? ok)(res, s.requestsTo(path).length, entry);
      });
    });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  /** Sets how a path answers (200 {} unless told otherwise). */
  on(path: string, responder: Responder): string {
    this.responders.set(path, responder);
    return this.url + path;
  }

  requestsTo(path: string): ReceivedCallback[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const status =
  (code: number, headers: Record<string, string> = {}): Responder =>
  (res) => {
    res.writeHead(code, headers);
    res.end();
  };

/** Never answers: the connection stays open until the server closes. */
export const silent: Responder = () => undefined;

/** Polls `fn` until it returns a truthy value (returned) or the time is up (throws). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(stepMs);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Direct SQL on a test database: what the rows say, independent of the API. */
export async function sql<T = any>(databaseUrl: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface RequestRow {
  id: string;
  status: string;
  callback_state: string;
  expires_at: Date;
  decided_at: Date | null;
  token_redeemed_at: Date | null;
}

export async function requestRow(databaseUrl: string, id: string): Promise<RequestRow> {
  const [row] = await sql<RequestRow>(
    databaseUrl,
    `SELECT id, status, callback_state, expires_at, decided_at, token_redeemed_at FROM approval_requests WHERE id = $1`,
    [id],
  );
  return row;
}

export interface AttemptRow {
  attempt: number;
  mode: string;
  outcome: string;
  status_code: number | null;
  error: string | null;
}

export function attemptRows(databaseUrl: string, id: string): Promise<AttemptRow[]> {
  return sql<AttemptRow>(databaseUrl, `SELECT attempt, mode, outcome, status_code, error FROM callback_attempts WHERE approval_id = $1 ORDER BY id`, [id]);
}

export function auditTypes(databaseUrl: string, id: string): Promise<{ type: string; actor: string | null; data: any }[]> {
  return sql(databaseUrl, `SELECT type, actor, data FROM audit_events WHERE approval_id = $1 ORDER BY id`, [id]);
}

/** Resolves once the outbox dispatcher has moved every committed event to BullMQ (the jobs exist). */
export async function outboxDrained(databaseUrl: string, timeoutMs = 10_000): Promise<void> {
  await eventually(async () => (await sql<{ n: number }>(databaseUrl, `SELECT count(*)::int AS n FROM outbox`))[0].n === 0, timeoutMs);
}
