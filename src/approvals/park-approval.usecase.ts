import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { callHashOf, canonicalJson } from '../common/canonical-json';
import { InvalidClientNotificationToken, InvalidRequest, UnmetObligation } from '../common/errors/protocol-errors';
import { Outbox } from '../common/outbox/outbox.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { auditContext } from './approval-audit';
import { APPROVAL_CREATED, ApprovalCreatedEvent } from './approval-outbox-events';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { ApproverRouting } from './approver-routing.port';
import { CallbackEndpointPolicy } from './callback-endpoint.policy';
import { approvalsNeeded, namedIn } from './approver-sets';
import { approverSetsOf, ParkApprovalCommand, setPathOf } from './park-approval.command';

const MAX_ARGUMENTS_BYTES = 64 * 1024;
const MAX_JSON_DEPTH = 64;

/** Iterative, so that the check itself cannot overflow the stack. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

export interface ParkedApproval {
  auth_req_id: string;
  expires_in: number;
  interval: number;
}

/**
 * Parks a tool call that a policy answered with allow_with_obligations. The row, its audit
 * events, the initial round's notifications and the approval.created outbox event (which the
 * outbox dispatcher turns into the expiry job and the later notification rounds) commit in one
 * statement before the gateway gets the auth_req_id. No Redis call: parking works while Redis is
 * away, and the jobs follow when it is back.
 */
@Injectable()
export class ParkApproval {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly audit: AuditLog,
    private readonly outbox: Outbox,
    private readonly callbackPolicy: CallbackEndpointPolicy,
    private readonly routing: ApproverRouting,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async execute({ tenantId, gatewayId, input, facade, decisionId, standingOffer, proof }: ParkApprovalCommand): Promise<ParkedApproval> {
    this.checkDepth(input);
    this.checkObligation(input);
    this.checkDelivery(input);
    // Canonicalised once: its size is checked here and its hash binds the approval below.
    const canonicalArguments = canonicalJson(input.tool_call.arguments);
    if (Buffer.byteLength(canonicalArguments) > MAX_ARGUMENTS_BYTES) {
      throw InvalidRequest.forFields([{ field: 'tool_call.arguments', message: `must be at most ${MAX_ARGUMENTS_BYTES} bytes of JSON` }]);
    }

    const expiresIn = Math.min(input.obligation.expires_in ?? this.config.APPROVAL_DEFAULT_EXPIRES_IN, this.config.APPROVAL_MAX_EXPIRES_IN);
    this.checkTimers(input, expiresIn);
    const { obligation } = input;
    const sets = approverSetsOf(obligation);
    const unique = (refs: string[]) => [...new Set(refs)];
    const admission = await this.routing.admit({
      tenantId,
      approvers: unique(sets.flatMap((set) => set.approvers)),
      escalateTo: unique(sets.flatMap((set) => set.escalate_to)),
      sets,
      setPath: setPathOf(obligation),
      denyThreshold: obligation.deny_threshold,
      delegatorId: input.delegator.id,
      agentOperator: input.agent.operator ?? null,
      // Out of every set, the delegating human and the operator may not vote at all.
      independentApprovers: sets.every((set) => set.independent_approvers),
    });
    if (admission.problems.length) throw UnmetObligation.of(admission.problems);
    const createdAt = new Date();
    const request = new ApprovalRequest();
    Object.assign(request, {
      // 192 bits from the CSPRNG, opaque to the caller.
      id: randomBytes(24).toString('base64url'),
      tenantId,
      status: 'pending',
      gatewayId,
      toolCall: input.tool_call,
      callHash: callHashOf(input.tool_call.server, input.tool_call.tool, canonicalArguments),
      agent: input.agent,
      agentId: input.agent.id,
      delegatorId: input.delegator.id,
      delegation: input.delegator,
      intent: input.intent,
      resource: input.resource,
      environment: input.environment ?? null,
      reason: input.reason,
      risk: input.risk,
      approverSets: sets.map((set) => ({ ...set, approvers: unique(set.approvers), escalate_to: unique(set.escalate_to) })),
      approvers: unique(sets.flatMap((set) => set.approvers)),
      quorum: approvalsNeeded(sets),
      denyThreshold: input.obligation.deny_threshold,
      bindingMessage: input.obligation.binding_message ?? null,
      escalateAfter: obligation.escalate_after ?? null,
      escalateTo: unique(sets.flatMap((set) => set.escalate_to)),
      remindAfter: obligation.remind_after ?? null,
      independentApprovers: sets.every((set) => set.independent_approvers),
      agentOperator: input.agent.operator ?? null,
      deliveryMode: input.delivery.mode,
      notificationEndpoint: input.delivery.notification_endpoint ?? null,
      notificationToken: input.delivery.notification_token ?? null,
      callbackState: 'none',
      mcpSessionId: input.correlation.mcp_session_id ?? null,
      a2aInteractionId: input.correlation.a2a_interaction_id ?? null,
      requestId: input.correlation.request_id ?? null,
      pollInterval: this.config.APPROVAL_POLL_INTERVAL,
      lastPolledAt: null,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + expiresIn * 1000),
      decidedAt: null,
      tokenRedeemedAt: null,
      tokenJti: null,
      settledReason: null,
      decisionId: decisionId ?? null,
      reevaluation: null,
      standingOffer: standingOffer ?? null,
      proof: proof ?? null,
    } satisfies ApprovalRequest);

    const created: ApprovalCreatedEvent = {
      tenantId,
      approvalId: request.id,
      createdAt: createdAt.toISOString(),
      expiresAt: request.expiresAt.toISOString(),
      escalateAfter: request.escalateAfter,
      remindAfter: request.remindAfter,
    };
    // The row, the facade's row, the notifications owed, its audit events and the outbox event in one statement: atomic, and one round trip.
    // The events go in one INSERT so that their ids (the audit chain's order) follow the list.
    let routedEvents: AuditEntry[] = [];
    await this.requests.insertWith(request, [
      (offset) => facade?.statement(request.id, offset),
      (offset) => {
        const routed = admission.statement?.(request, offset);
        routedEvents = routed?.events ?? [];
        return routed;
      },
      (offset) => {
        const event = this.audit.insertStatement(
          [
            {
              ...auditContext(request),
              type: 'approval.created',
              actor: facade?.actor ?? `gateway:${gatewayId}`,
              data: { input, call_hash: request.callHash, expires_at: request.expiresAt.toISOString(), ...facade?.auditData },
            },
            ...routedEvents,
          ],
          offset,
        );
        return { ctes: [`created AS (${event.sql})`], params: event.params };
      },
      (offset) => {
        const outboxed = this.outbox.insertStatement([{ topic: APPROVAL_CREATED, payload: { ...created } }], offset);
        return { ctes: [`outboxed AS (${outboxed.sql})`], params: outboxed.params };
      },
    ]);
    this.outbox.committed();
    return { auth_req_id: request.id, expires_in: expiresIn, interval: request.pollInterval };
  }

  /**
   * Free-form JSON (arguments, risk, agent claims) is stored as jsonb and canonicalised; nesting
   * deeper than MAX_JSON_DEPTH would overflow the stack of JSON.stringify (a 500), so it is refused.
   */
  private checkDepth(input: ParkApprovalCommand['input']): void {
    const free: [string, unknown][] = [
      ['tool_call.arguments', input.tool_call.arguments],
      ['risk', input.risk],
      ['agent.claims', input.agent.claims],
    ];
    for (const [field, value] of free) {
      if (depthExceeds(value, MAX_JSON_DEPTH)) {
        throw InvalidRequest.forFields([{ field, message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` }]);
      }
    }
  }

  private checkObligation({ obligation }: ParkApprovalCommand['input']): void {
    const sets = approverSetsOf(obligation);
    const path = setPathOf(obligation);
    // Escalation approvers may vote from the start, so they count towards what a quorum can reach.
    const named = sets.map((set) => new Set(namedIn(set)));
    const everyone = new Set(named.flatMap((refs) => [...refs]));
    const namesGroup = [...everyone].some((a) => a.startsWith('group:'));
    // Without a group, the named people are all who can vote: a quorum above that could never be met.
    for (const [i, set] of sets.entries()) {
      if (![...named[i]].some((a) => a.startsWith('group:')) && set.quorum > named[i].size) {
        throw UnmetObligation.of([{ field: `${path(i)}.quorum`, message: `is ${set.quorum} but only ${named[i].size} approver(s) are named` }]);
      }
    }
    // Each person counts in one set only: together the sets need that many distinct people.
    const needed = approvalsNeeded(sets);
    if (sets.length > 1 && !namesGroup && needed > everyone.size) {
      throw UnmetObligation.of([
        {
          field: 'obligation.approver_sets',
          message: `need ${needed} distinct approvers (each person counts in one set only) but only ${everyone.size} are named`,
        },
      ]);
    }
    if (!namesGroup && obligation.deny_threshold > everyone.size) {
      throw UnmetObligation.of([
        { field: 'obligation.deny_threshold', message: `is ${obligation.deny_threshold} but only ${everyone.size} approver(s) are named` },
      ]);
    }
  }

  /** An escalation or reminder that could only come after the request expires would never fire. */
  private checkTimers({ obligation }: ParkApprovalCommand['input'], expiresIn: number): void {
    const escalating = obligation.escalate_to !== undefined || (obligation.approver_sets ?? []).some((set) => set.escalate_to !== undefined);
    if ((obligation.escalate_after === undefined) === escalating) {
      const missing = obligation.escalate_after === undefined ? 'obligation.escalate_after' : 'obligation.escalate_to';
      throw UnmetObligation.of([{ field: missing, message: 'is required when the other escalation field is given' }]);
    }
    for (const field of ['escalate_after', 'remind_after'] as const) {
      const after = obligation[field];
      if (after !== undefined && after >= expiresIn) {
        throw UnmetObligation.of([
          { field: `obligation.${field}`, message: `is ${after} s but the request expires after ${expiresIn} s, so it would never fire` },
        ]);
      }
    }
    const path = setPathOf(obligation);
    for (const [i, set] of approverSetsOf(obligation).entries()) {
      if (!set.independent_approvers) continue;
      for (const field of ['approvers', 'escalate_to'] as const) {
        const index = set[field].indexOf('delegator');
        if (index >= 0) {
          throw UnmetObligation.of([
            { field: `${path(i)}.${field}[${index}]`, message: 'cannot be "delegator" when independent_approvers is true (separation of duties)' },
          ]);
        }
      }
    }
  }

  private checkDelivery({ delivery }: ParkApprovalCommand['input']): void {
    if (delivery.mode === 'poll') {
      if (delivery.notification_endpoint) {
        throw InvalidRequest.forFields([{ field: 'delivery.notification_endpoint', message: 'must be absent in poll mode' }]);
      }
      if (delivery.notification_token) {
        throw new InvalidClientNotificationToken('delivery.notification_token: must be absent in poll mode', {
          field: 'delivery.notification_token',
        });
      }
      return;
    }
    if (!delivery.notification_endpoint) {
      throw InvalidRequest.forFields([{ field: 'delivery.notification_endpoint', message: `is required in ${delivery.mode} mode` }]);
    }
    const problem = this.callbackPolicy.problemWith(delivery.notification_endpoint);
    if (problem) throw InvalidRequest.forFields([{ field: 'delivery.notification_endpoint', message: problem }]);
    if (!delivery.notification_token) {
      throw new InvalidClientNotificationToken(`delivery.notification_token: is required in ${delivery.mode} mode`, {
        field: 'delivery.notification_token',
      });
    }
  }
}
