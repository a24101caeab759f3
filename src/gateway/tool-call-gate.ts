/**
 * The enforcement point: every tools/call is decided by Countersign before the upstream sees
 * it. allow → forwarded, the result returned unchanged; deny → a tool error with the reasons;
 * approval → the call is parked, the agent kept informed while the gateway waits (progress
 * notifications), then forwarded once, after the approval token is verified against exactly
 * the call being sent. Anything the gateway cannot decide on fails closed.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { callHash } from '../common/canonical-json';
import { AgentStatement, agentStatement, REASON_META_KEY } from './agent-statement';
import { ApprovalTokenRejected, ApprovalTokenVerifier } from './approval-token.verifier';
import {
  ApprovalStatus,
  AuthorizeRequest,
  CountersignClient,
  CountersignRefusal,
  CountersignUnavailable,
  Decision,
  isApprovalObligation,
} from './countersign-client';
import type { GatewayConfig, ToolHints } from './gateway-config';
import { GatewayMetrics } from './gateway-metrics';
import { MemoryParkedCalls, ParkedCall, ParkedCalls } from './parked-calls';
import { UpstreamFailure } from './upstreams';

/** How long one instance's claim to settle an approved call, and the outcome it publishes, last. */
const SETTLEMENT_MS = 10 * 60_000;
/** How often an instance waiting for another's outcome looks for it. */
const OUTCOME_POLL_MS = 200;

/** What the gateway knows of the agent's request beyond the call itself. */
export interface CallContext {
  agentToken: string;
  /** Who the agent is (issuer, human, actor chain): a parked call resumes only for the same agent. */
  agentKey: string;
  sessionId?: string;
  requestId: string | number;
  progressToken?: string | number;
  sendProgress(progress: number, message: string): Promise<void>;
  /**
   * Sends the evaluated call to the upstream in the agent's session (session-upstreams.ts), which
   * relays what the upstream sends meanwhile; `progressSent`: the progress the gate has reported already.
   */
  forward(server: string, tool: string, args: Record<string, unknown>, signal: AbortSignal, progressSent: number): Promise<CallToolResult>;
  signal: AbortSignal;
  /** How long to hold the call for its approval; default approval.wait_seconds (a task holds until the request is decided). */
  holdSeconds?: number;
  /** The agent's reason and intent for this call (agent-statement.ts). */
  statement?: AgentStatement;
}

/** An upstream and its own name for the tool. */
export interface ToolTarget {
  server: string;
  tool: string;
}

/**
 * The tool name under which Countersign evaluates a resources/read on a server (registered in the
 * catalogue with a `uri` argument when the server serves resources; delegate "<server>/resources.read").
 */
export const RESOURCE_READ_TOOL = 'resources.read';

/** `_meta` key under which tool errors say what Countersign decided (for scripted agents). */
export const META_KEY = 'io.countersign/decision';

export class ToolCallGate {
  /**
   * Approved calls being settled here, by parked key: every request of this process waiting on
   * one gets the same outcome, and the upstream is called once.
   */
  private readonly settling = new Map<string, Promise<CallToolResult>>();
  /** The gateway is stopping: with shared state, what it parked stays parked for the other instances. */
  private stopping = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly countersign: CountersignClient,
    private readonly approvalTokens: ApprovalTokenVerifier,
    private readonly servers: ReadonlySet<string>,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
    /** Parked calls by (agent, exact call) and, when not shared, session: parked-calls.ts. */
    private readonly parked: ParkedCalls = new MemoryParkedCalls(),
  ) {}

  /** Called as the gateway stops, before its sessions close. */
  stop(): void {
    this.stopping = true;
  }

  /**
   * What the agent states about a call (reason, intent) from its `_meta` and the tool's
   * reason_argument; throws an InvalidParams McpError naming a bad value. Read before a task is
   * created, so a bad statement is an error at once, not a failed task.
   */
  statement(target: ToolTarget, args: Record<string, unknown>, meta: Record<string, unknown> | undefined): AgentStatement {
    return agentStatement(meta, args, this.hints(target.server, target.tool)?.reason_argument);
  }

  private hints(server: string, tool: string): ToolHints | undefined {
    const upstream = this.config.upstreams.find((u) => u.name === server);
    return upstream && Object.hasOwn(upstream.tools, tool) ? upstream.tools[tool] : undefined;
  }

  /** A call to `target`, the upstream tool the agent's name resolved to (gateway.ts, ToolCatalogue.resolve). */
  async call(target: ToolTarget, args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    const { server, tool } = target;
    const name = `${server}/${tool}`;
    if (!this.servers.has(server)) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const key = pendingKey(ctx, server, tool, args, this.parked.shared);

    const parked = await this.state('read its parked calls', () => this.parked.get(key));
    if (parked) {
      this.log.info({ tool: name, auth_req_id: parked.authReqId, session: ctx.sessionId }, 'retry resumes a parked call');
      // Resumed in another session (after a failover): that session now holds it, and closing it cancels it.
      if (parked.sessionId !== ctx.sessionId) {
        parked.sessionId = ctx.sessionId;
        await this.state('save a parked call', () => this.parked.update(key, parked));
      }
      return this.await(key, parked, args, ctx);
    }

    const started = performance.now();
    const decision = await this.decide(this.envelope(server, tool, args, ctx), ctx.signal);
    this.metrics.decided((performance.now() - started) / 1000);
    this.log.info(
      {
        tool: name,
        verdict: decision.verdict,
        reasons: decision.reasons,
        decision_id: decision.decision_id,
        session: ctx.sessionId,
        ms: Math.round(performance.now() - started),
      },
      'decision',
    );
    switch (decision.verdict) {
      case 'allow':
        this.metrics.call('allowed');
        return this.forward(server, tool, args, ctx, 0);
      case 'deny':
        this.metrics.call('denied');
        return denied(server, decision, this.hints(server, tool)?.reason_argument);
      case 'allow_with_obligations': {
        const approval = decision.obligations.filter(isApprovalObligation);
        const others = decision.obligations.filter((o) => !isApprovalObligation(o));
        // An obligation this gateway cannot carry out is a reason not to forward.
        if (!decision.auth_req_id || others.length) {
          this.metrics.call('refused');
          return toolError(
            `The call was not sent: Countersign attached obligations this gateway cannot fulfil (${others.map((o) => o.type).join(', ') || 'no approval request'}).`,
            { verdict: decision.verdict, decision_id: decision.decision_id, reasons: decision.reasons },
          );
        }
        const entry: ParkedCall = {
          authReqId: decision.auth_req_id,
          sessionId: ctx.sessionId,
          server,
          tool,
          approvers: [...new Set(approval.flatMap((o) => o.approvers ?? []))],
          bindingMessage: approval.find((o) => o.binding_message)?.binding_message,
          expiresAt: Date.now() + (decision.expires_in ?? 0) * 1000,
        };
        const kept = await this.state('park the call', () => this.parked.park(key, entry));
        if (kept.authReqId !== entry.authReqId) {
          // The same call was parked meanwhile (through another instance): one request is enough.
          await this.countersign.cancel(entry.authReqId).catch(() => undefined);
          return this.await(key, kept, args, ctx);
        }
        return this.await(key, entry, args, ctx);
      }
    }
  }

  /**
   * A resources/read, evaluated like a call of the tool RESOURCE_READ_TOOL on that server with
   * the URI as its argument and as the resource id (so delegations' resource patterns and
   * policies on resource.id apply). Returns when allowed; anything else throws and nothing is
   * read: a deny, an approval (carried out for tools/call only: the request is withdrawn at once),
   * Countersign unreachable.
   */
  async evaluateRead(server: string, uri: string, ctx: Pick<CallContext, 'agentToken' | 'sessionId' | 'requestId' | 'signal'>): Promise<void> {
    if (!this.servers.has(server)) throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
    const upstream = this.config.upstreams.find((u) => u.name === server)!;
    const decision = await this.decide(
      {
        agent: { token: ctx.agentToken },
        action: { server, tool: RESOURCE_READ_TOOL, method: 'resources/read', arguments: { uri } },
        resource: { id: uri, type: 'mcp_resource' },
        ...(upstream.environment ? { environment: upstream.environment } : {}),
        observed_at: new Date().toISOString(),
        correlation: dropUndefined({ mcp_session_id: ctx.sessionId, request_id: String(ctx.requestId) }),
      },
      ctx.signal,
    );
    this.log.info(
      { resource: uri, server, verdict: decision.verdict, reasons: decision.reasons, decision_id: decision.decision_id, session: ctx.sessionId },
      'resource read decision',
    );
    const data = { verdict: decision.verdict, decision_id: decision.decision_id, reasons: decision.reasons };
    if (decision.verdict === 'allow') return;
    if (decision.verdict === 'deny') {
      throw new McpError(
        ErrorCode.InvalidRequest,
        `Countersign denied reading ${uri} (reasons: ${decision.reasons.join(', ') || 'none given'}; decision ${decision.decision_id}). It was not read.`,
        data,
      );
    }
    if (decision.auth_req_id)
      await this.countersign.cancel(decision.auth_req_id).catch((e) => this.log.warn({ auth_req_id: decision.auth_req_id, err: String(e) }, 'cancel failed'));
    throw new McpError(
      ErrorCode.InvalidRequest,
      `Reading ${uri} needs what the gateway carries out for tools/call only (${decision.obligations.map((o) => o.type).join(', ') || 'obligations'}); it was not read (decision ${decision.decision_id}).`,
      data,
    );
  }

  /**
   * The agent's session ended: its parked calls are cancelled (nobody is left to receive them).
   * Not when the gateway stops with shared state: the agent may resume them through another instance.
   */
  async sessionClosed(sessionId: string): Promise<void> {
    if (this.stopping && this.parked.shared) return;
    const mine = await this.parked.ofSession(sessionId).catch((e: unknown) => {
      this.log.warn({ session: sessionId, err: String(e) }, 'parked calls of a closed session could not be read');
      return [];
    });
    await Promise.all(mine.filter(([key]) => !this.settling.has(key)).map(([key, p]) => this.cancel(key, p, 'session closed')));
  }

  /**
   * Waits for the approvers, up to approval.wait_seconds, long-polling Countersign and sending
   * progress notifications; then the outcome, or a tool error saying the call still awaits approval.
   */
  private async await(key: string, entry: ParkedCall, args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    const deadline = Date.now() + (ctx.holdSeconds ?? this.config.approval.wait_seconds) * 1000;
    let status: ApprovalStatus | undefined;
    let step = 0;
    while (!this.settling.has(key)) {
      if (ctx.signal.aborted) {
        if (this.stopping && this.parked.shared) {
          throw new McpError(
            ErrorCode.InternalError,
            `This gateway instance is stopping. The approval request ${entry.authReqId} stays open: call the same tool again with the same arguments to resume it.`,
          );
        }
        await this.cancel(key, entry, 'request cancelled');
        throw new McpError(ErrorCode.RequestTimeout, 'The request was cancelled; its approval request was cancelled too.');
      }
      // Seconds left to hold this request; after the first look, none left means: tell the agent it still waits.
      const wait = Math.min(this.config.approval.progress_interval_seconds, Math.round((deadline - Date.now()) / 1000));
      if (status && wait <= 0) {
        this.metrics.call('awaiting_approval');
        return awaitingApproval(entry, this.parked.shared);
      }
      if (ctx.progressToken !== undefined) {
        const left = Math.max(0, Math.round((entry.expiresAt - Date.now()) / 1000));
        await ctx
          .sendProgress(
            ++step,
            `Awaiting approval by ${entry.approvers.join(', ') || 'the approvers'} (auth_req_id ${entry.authReqId}, expires in ${left} s)` +
              `${entry.bindingMessage ? `: "${entry.bindingMessage}"` : ''}`,
          )
          .catch(() => undefined);
      }
      try {
        status = await this.countersign.approval(entry.authReqId, Math.max(0, wait), ctx.signal);
      } catch (e) {
        if (ctx.signal.aborted) continue;
        throw failClosed(e, 'read the approval request');
      }
      entry.expiresAt = Date.now() + status.expires_in * 1000;
      if (status.obligation.approvers.length) entry.approvers = status.obligation.approvers;
      if (status.status !== 'pending') {
        if (!this.settling.has(key))
          this.settling.set(
            key,
            this.settleOnce(key, entry, args, ctx, step).finally(() => this.settling.delete(key)),
          );
        break;
      }
      await this.parked.update(key, entry).catch(() => undefined);
    }
    return this.settling.get(key) ?? this.settleOnce(key, entry, args, ctx, step);
  }

  /**
   * Settles a decided request once across instances: the first to claim it redeems, forwards and
   * publishes the outcome; another waits for that outcome (its own request never calls the upstream).
   */
  private async settleOnce(key: string, entry: ParkedCall, args: Record<string, unknown>, ctx: CallContext, progressSent: number): Promise<CallToolResult> {
    if (!(await this.state('claim the approved call', () => this.parked.claimSettlement(entry.authReqId, SETTLEMENT_MS)))) {
      return this.outcomeOf(entry, ctx.signal);
    }
    try {
      const result = await this.settle(entry, args, ctx, progressSent);
      await this.parked.publishOutcome(entry.authReqId, result, SETTLEMENT_MS).catch(() => undefined);
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await this.parked.publishOutcome(entry.authReqId, { isError: true, content: [{ type: 'text', text: message }] }, SETTLEMENT_MS).catch(() => undefined);
      throw e;
    } finally {
      await this.parked.remove(key, entry.authReqId).catch(() => undefined);
    }
  }

  /** The outcome another instance (or request) published for a call it settled. */
  private async outcomeOf(entry: ParkedCall, signal: AbortSignal): Promise<CallToolResult> {
    const until = Date.now() + SETTLEMENT_MS;
    while (Date.now() < until && !signal.aborted) {
      const outcome = await this.state('read the outcome', () => this.parked.outcome(entry.authReqId));
      if (outcome) return outcome;
      await new Promise((resolve) => setTimeout(resolve, OUTCOME_POLL_MS));
    }
    throw new McpError(
      ErrorCode.RequestTimeout,
      `The approved call (auth_req_id ${entry.authReqId}) is being sent by another gateway instance; its outcome is not known here. It was not sent again.`,
    );
  }

  /** Shared state that cannot be read or written fails the call closed. */
  private async state<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.metrics.call('failed');
      this.log.error({ err: String(e) }, `could not ${what}`);
      throw new McpError(ErrorCode.InternalError, `The gateway could not ${what} (its state store failed); the call was not sent.`);
    }
  }

  /** The approvers decided: redeem the approval token (which also says why not), verify it, forward once. */
  private async settle(entry: ParkedCall, args: Record<string, unknown>, ctx: CallContext, progressSent: number): Promise<CallToolResult> {
    let token: string;
    try {
      token = await this.countersign.redeem(entry.authReqId);
    } catch (e) {
      if (e instanceof CountersignRefusal && ['access_denied', 'expired_token', 'invalid_grant'].includes(e.code)) {
        this.metrics.call('not_approved');
        return notApproved(entry, e);
      }
      throw failClosed(e, 'redeem the approval');
    }
    try {
      await this.approvalTokens.verify(token, { authReqId: entry.authReqId, server: entry.server, tool: entry.tool, arguments: args });
    } catch (e) {
      if (!(e instanceof ApprovalTokenRejected)) throw e;
      this.log.warn({ auth_req_id: entry.authReqId, problem: e.message }, 'approval token refused');
      this.metrics.call('refused');
      return toolError(`The call was not sent: ${e.message}.`, { status: 'refused', auth_req_id: entry.authReqId });
    }
    this.log.info({ auth_req_id: entry.authReqId, tool: `${entry.server}/${entry.tool}` }, 'approved call forwarded');
    this.metrics.call('approved');
    return this.forward(entry.server, entry.tool, args, ctx, progressSent);
  }

  private async cancel(key: string, entry: ParkedCall, why: string): Promise<void> {
    await this.parked.remove(key, entry.authReqId).catch(() => undefined);
    await this.countersign.cancel(entry.authReqId).catch((e) => this.log.warn({ auth_req_id: entry.authReqId, err: String(e) }, 'cancel failed'));
    this.log.info({ auth_req_id: entry.authReqId, why }, 'approval request cancelled');
  }

  private async decide(body: AuthorizeRequest, signal: AbortSignal): Promise<Decision> {
    try {
      return await this.countersign.authorize(body, signal);
    } catch (e) {
      // A malformed call (arguments that do not fit the catalogued schema…) is the agent's to fix.
      if (e instanceof CountersignRefusal && e.status === 400) {
        throw new McpError(ErrorCode.InvalidParams, `Countersign refused to evaluate the call: ${e.description}`);
      }
      this.metrics.call('failed');
      throw failClosed(e, 'authorize the call');
    }
  }

  private async forward(server: string, tool: string, args: Record<string, unknown>, ctx: CallContext, progressSent: number): Promise<CallToolResult> {
    const started = performance.now();
    try {
      const result = await ctx.forward(server, tool, args, ctx.signal, progressSent);
      this.metrics.forwarded(server, (performance.now() - started) / 1000);
      return result;
    } catch (e) {
      this.metrics.call('failed');
      if (e instanceof UpstreamFailure) throw new McpError(ErrorCode.InternalError, `The upstream server failed: ${e.message}`);
      throw e;
    }
  }

  private envelope(server: string, tool: string, args: Record<string, unknown>, ctx: CallContext): AuthorizeRequest {
    const upstream = this.config.upstreams.find((u) => u.name === server)!;
    const hints: ToolHints = this.hints(server, tool) ?? {};
    const stated = ctx.statement ?? {};
    // The agent's own intent over the configured default: a stated intent lets policy catch a call that does not fit it.
    const intent = dropUndefined({ category: stated.intent?.category ?? hints.intent_category, text: stated.intent?.text });
    const resourceId = hints.resource?.id ?? (hints.resource?.id_argument ? scalarAt(args, hints.resource.id_argument) : undefined);
    const resource = { id: resourceId, type: hints.resource?.type, classification: hints.resource?.classification };
    const environment = hints.environment ?? upstream.environment;
    return {
      agent: { token: ctx.agentToken },
      action: { server, tool, arguments: args },
      ...(Object.keys(intent).length ? { intent } : {}),
      ...(stated.reason ? { reason: stated.reason } : {}),
      ...(Object.values(resource).some((v) => v !== undefined) ? { resource: dropUndefined(resource) } : {}),
      ...(environment ? { environment } : {}),
      observed_at: new Date().toISOString(),
      correlation: dropUndefined({ mcp_session_id: ctx.sessionId, request_id: String(ctx.requestId) }),
    };
  }
}

/**
 * The same agent making the same call (tool and canonical arguments) in the same session; with
 * shared state, in any session (a failover opens a new one), but always the same agent.
 */
function pendingKey(ctx: CallContext, server: string, tool: string, args: Record<string, unknown>, anySession: boolean): string {
  const call = callHash({ server, tool, arguments: args });
  return createHash('sha256')
    .update(JSON.stringify(anySession ? [ctx.agentKey, call] : [ctx.sessionId ?? '', ctx.agentKey, call]))
    .digest('base64url');
}

function denied(server: string, d: Decision, reasonArgument?: string): CallToolResult {
  // A missing reason is something the agent can fix itself: say how.
  const askReason = d.reasons.includes('reason_required')
    ? `It needs your reason for making it: state why (for whom, which task) in the request's _meta["${REASON_META_KEY}"]` +
      `${reasonArgument ? ` or in the "${reasonArgument}" argument` : ''}; the people who approve it read it. `
    : '';
  return toolError(
    `Countersign denied this call (reasons: ${d.reasons.join(', ') || 'none given'}; decision ${d.decision_id}). It was not sent to ${server}. ${askReason}` +
      'Do not retry it unchanged: ask the user to grant the access it needs, or do something else.',
    { verdict: 'deny', decision_id: d.decision_id, reasons: d.reasons },
  );
}

function awaitingApproval(p: ParkedCall, anySession: boolean): CallToolResult {
  const left = Math.max(0, Math.round((p.expiresAt - Date.now()) / 1000));
  return toolError(
    `This call awaits human approval (auth_req_id ${p.authReqId}) by ${p.approvers.join(', ') || 'its approvers'}` +
      `${p.bindingMessage ? ` ("${p.bindingMessage}")` : ''}; the request expires in ${left} s. It has not been sent yet. ` +
      `Call the same tool again with exactly the same arguments${anySession ? '' : ' in this session'} to resume it; changed arguments need a new approval.`,
    { verdict: 'allow_with_obligations', status: 'pending', auth_req_id: p.authReqId, approvers: p.approvers, expires_in: left },
  );
}

function notApproved(p: ParkedCall, refusal: CountersignRefusal): CallToolResult {
  const details = (refusal.body.denials ?? (refusal.body as { details?: { denials?: unknown } }).details?.denials) as
    { approver: string; reason?: string }[] | undefined;
  const reasons = (details ?? []).map((d) => `${d.approver}: ${d.reason ?? 'no reason given'}`);
  const status = refusal.code === 'expired_token' ? 'expired' : refusal.code === 'access_denied' ? 'denied' : 'refused';
  return toolError(
    `The call was not approved (${status}, auth_req_id ${p.authReqId}): ${refusal.description}` +
      `${reasons.length ? `. Approvers' reasons: ${reasons.join('; ')}` : ''}. It was not sent. Do not retry it unchanged.`,
    { status, auth_req_id: p.authReqId, denials: details ?? [] },
  );
}

function toolError(text: string, meta: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], _meta: { [META_KEY]: meta } };
}

function failClosed(e: unknown, what: string): Error {
  if (e instanceof McpError) return e;
  const detail = e instanceof CountersignUnavailable || e instanceof CountersignRefusal ? e.message : 'unexpected error';
  return new McpError(ErrorCode.InternalError, `The gateway could not ${what} with Countersign (${detail}); the call was not sent.`);
}

/** The string or number at a dotted path of the arguments: a resource id. */
function scalarAt(args: Record<string, unknown>, path: string): string | undefined {
  let v: unknown = args;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
