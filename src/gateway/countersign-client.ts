/**
 * The gateway's view of Countersign: its public HTTP API, nothing else (a third-party gateway
 * would see the same). Every answer is checked for the shape the gateway relies on; anything
 * else is a CountersignUnavailable, which the gateway turns into a refusal (fail closed).
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';

/** Countersign could not be asked, or answered something the gateway cannot act on. */
export class CountersignUnavailable extends Error {}

/** A protocol error Countersign returned on purpose (400 with `error`), e.g. access_denied or invalid_request. */
export class CountersignRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly body: Record<string, unknown>,
  ) {
    super(`${code}: ${description}`);
  }
}

const approvalObligation = z.looseObject({
  type: z.literal('human_approval'),
  approvers: z.array(z.string()).optional(),
  quorum: z.number().optional(),
  binding_message: z.string().optional(),
});

export const decisionSchema = z.looseObject({
  verdict: z.enum(['allow', 'deny', 'allow_with_obligations']),
  decision_id: z.string(),
  reasons: z.array(z.string()),
  obligations: z.array(z.looseObject({ type: z.string() })),
  auth_req_id: z.string().optional(),
  expires_in: z.number().optional(),
  interval: z.number().optional(),
});
export type Decision = z.output<typeof decisionSchema>;

export const approvalStatusSchema = z.looseObject({
  auth_req_id: z.string(),
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']),
  expires_in: z.number(),
  interval: z.number(),
  call_hash: z.string(),
  binding_message: z.string().nullable().optional(),
  obligation: z.looseObject({ approvers: z.array(z.string()) }),
});
export type ApprovalStatus = z.output<typeof approvalStatusSchema>;

const callableToolsSchema = z.looseObject({
  tools: z.array(z.looseObject({ server: z.string(), tool: z.string(), always_denied: z.boolean(), reasons: z.array(z.string()) })),
});
export type CallableTool = z.output<typeof callableToolsSchema>['tools'][number];

const tokenSchema = z.looseObject({ auth_req_id: z.string(), approval_token: z.string().min(1), expires_in: z.number() });

export interface AuthorizeRequest {
  agent: { token: string };
  /** method: the MCP method (the service's default is tools/call). */
  action: { server: string; tool: string; method?: string; arguments: Record<string, unknown> };
  intent?: { category?: string; text?: string };
  /** The agent's stated reason for the call. */
  reason?: string;
  resource?: { id?: string; type?: string; classification?: string };
  environment?: string;
  observed_at: string;
  correlation: { mcp_session_id?: string; request_id?: string };
}

export function isApprovalObligation(o: { type: string }): o is z.output<typeof approvalObligation> {
  return approvalObligation.safeParse(o).success;
}

/** The bearer token to send now (a file's may be replaced while the gateway runs). */
export type Credential = () => string;

/** A token given inline, or read from a file and read again when the file changes (checked at most once a second). */
export function credential(inline: string | undefined, file: string | undefined): Credential {
  if (!file) return () => inline!;
  let token = inline ?? readFileSync(file, 'utf8').trim();
  let seen = statSync(file).mtimeMs;
  let checked = Date.now();
  return () => {
    if (Date.now() - checked < 1000) return token;
    checked = Date.now();
    try {
      const mtime = statSync(file).mtimeMs;
      if (mtime !== seen) {
        const next = readFileSync(file, 'utf8').trim();
        if (next) [token, seen] = [next, mtime];
      }
    } catch {
      // A file being replaced may be missing for a moment: keep the token we have.
    }
    return token;
  };
}

export class CountersignClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly credential: Credential,
    private readonly timeoutMs: number,
    private readonly adminCredential?: Credential,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  get jwksUrl(): string {
    return `${this.base}/.well-known/jwks.json`;
  }

  /** POST /v1/authorize: 200 allow, 403 deny, 202 parked are all decisions; anything else is not. */
  async authorize(body: AuthorizeRequest, signal?: AbortSignal): Promise<Decision> {
    const res = await this.send('POST', '/v1/authorize', body, this.credential(), this.timeoutMs, signal);
    if (res.status === 200 || res.status === 202 || res.status === 403) {
      const decision = parse(decisionSchema, res.body);
      const expected = { allow: 200, deny: 403, allow_with_obligations: 202 }[decision.verdict];
      if (res.status !== expected) throw new CountersignUnavailable(`Countersign answered ${res.status} with verdict ${decision.verdict}`);
      return decision;
    }
    throw refusalOrUnavailable(res);
  }

  /** POST /v1/authorize/tools: which of these tools the agent could ever be allowed to call (always_denied: never). */
  async callableTools(agentToken: string, tools: { server: string; tool: string }[], signal?: AbortSignal): Promise<CallableTool[]> {
    const res = await this.send('POST', '/v1/authorize/tools', { agent: { token: agentToken }, tools }, this.credential(), this.timeoutMs, signal);
    if (res.status !== 200) throw refusalOrUnavailable(res);
    const answer = parse(callableToolsSchema, res.body).tools;
    if (answer.length !== tools.length) throw new CountersignUnavailable(`Countersign answered for ${answer.length} tools, not ${tools.length}`);
    return answer;
  }

  /** GET /v1/approvals/:id?wait=: the request's status, held up to `wait` seconds while pending. */
  async approval(id: string, waitSeconds: number, signal?: AbortSignal): Promise<ApprovalStatus> {
    const path = `/v1/approvals/${encodeURIComponent(id)}?wait=${waitSeconds}`;
    const res = await this.send('GET', path, undefined, this.credential(), this.timeoutMs + waitSeconds * 1000, signal);
    if (res.status === 200) return parse(approvalStatusSchema, res.body);
    throw refusalOrUnavailable(res);
  }

  /** POST /v1/approvals/:id/token: the approval token once approved; refusals (access_denied, expired_token…) are thrown. */
  async redeem(id: string, signal?: AbortSignal): Promise<string> {
    const res = await this.send('POST', `/v1/approvals/${encodeURIComponent(id)}/token`, undefined, this.credential(), this.timeoutMs, signal);
    if (res.status === 200) return parse(tokenSchema, res.body).approval_token;
    throw refusalOrUnavailable(res);
  }

  /** DELETE /v1/approvals/:id: the agent gave up on the call. */
  async cancel(id: string): Promise<void> {
    const res = await this.send('DELETE', `/v1/approvals/${encodeURIComponent(id)}`, undefined, this.credential(), this.timeoutMs);
    if (res.status !== 200) throw refusalOrUnavailable(res);
  }

  /** PUT /v1/catalogue/servers/:server with a tools/list result (needs the admin token). */
  async registerTools(server: string, tools: unknown[]): Promise<{ status: number; body: unknown }> {
    if (!this.adminCredential) throw new Error('no admin token configured');
    const res = await this.send('PUT', `/v1/catalogue/servers/${encodeURIComponent(server)}`, { tools }, this.adminCredential(), this.timeoutMs);
    return res;
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    token: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'error',
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new CountersignUnavailable(`Countersign is unreachable (${describe(e)})`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new CountersignUnavailable(`Countersign's answer was cut off (${describe(e)})`);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CountersignUnavailable(`Countersign answered ${res.status} with a body that is not JSON`);
    }
    return { status: res.status, body: parsed };
  }
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CountersignUnavailable(`Countersign's answer is malformed (${issue.path.join('.') || 'body'}: ${issue.message})`);
  }
  return parsed.data;
}

function refusalOrUnavailable(res: { status: number; body: unknown }): Error {
  const body = res.body as Record<string, unknown> | undefined;
  if (res.status >= 400 && res.status < 500 && body && typeof body.error === 'string') {
    return new CountersignRefusal(res.status, body.error, typeof body.error_description === 'string' ? body.error_description : body.error, body);
  }
  return new CountersignUnavailable(`Countersign answered ${res.status}${body && typeof body.error === 'string' ? ` (${body.error})` : ''}`);
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  if (cause?.code) return cause.code;
  return e instanceof Error ? (e.name === 'TimeoutError' ? 'timed out' : e.message) : String(e);
}
