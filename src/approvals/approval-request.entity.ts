import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../common/json';
import type { DeliveryMode } from '../vocabulary/envelope';
import type { ApproverSet } from './approver-sets';
import type { Reevaluation } from './redeem-reevaluation.port';
import type { StandingOffer } from './standing/standing-terms';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export const SETTLED_STATUSES: ApprovalStatus[] = ['approved', 'denied', 'expired', 'cancelled'];
/** Where the gateway's ping/push callback stands; poll-mode requests have none. */
export type CallbackState = 'none' | 'pending' | 'delivered' | 'failed';

export interface ToolCall {
  server: string;
  tool: string;
  arguments: JsonObject;
}

export interface AgentContext {
  id: string;
  class?: string;
  trust_level?: string;
  claims?: JsonObject;
}

/** One parked tool call waiting for human approval. `id` is the auth_req_id. */
@Entity({ name: 'approval_requests' })
export class ApprovalRequest {
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ type: 'text' }) status: ApprovalStatus;
  @Column({ name: 'gateway_id', type: 'text' }) gatewayId: string;

  @Column({ name: 'tool_call', type: 'jsonb' }) toolCall: ToolCall;
  @Column({ name: 'call_hash', type: 'text' }) callHash: string;
  @Column({ type: 'jsonb' }) agent: AgentContext;
  @Column({ name: 'agent_id', type: 'text' }) agentId: string;
  @Column({ name: 'delegator_id', type: 'text' }) delegatorId: string;
  @Column({ type: 'jsonb' }) delegation: JsonObject;
  @Column({ type: 'jsonb' }) intent: JsonObject;
  @Column({ type: 'jsonb' }) resource: JsonObject;
  @Column({ type: 'text', nullable: true }) environment: string | null;
  @Column({ type: 'text' }) reason: string;
  @Column({ type: 'jsonb' }) risk: JsonObject;

  /**
   * Conjunctive approval: every set must reach its own quorum, each approving person counting in
   * one set only (see approver-sets.ts). A request parked with one set has one here.
   */
  @Column({ name: 'approver_sets', type: 'jsonb' }) approverSets: ApproverSet[];
  /** Everyone any set names ("user:<id>", "group:<name>" or "delegator"): who is notified and may vote. */
  @Column({ type: 'jsonb' }) approvers: string[];
  /** The fewest approvals that can approve it: the sum of the sets' quorums. */
  @Column({ type: 'int' }) quorum: number;
  @Column({ name: 'deny_threshold', type: 'int' }) denyThreshold: number;
  @Column({ name: 'binding_message', type: 'text', nullable: true }) bindingMessage: string | null;
  /** Escalation: after this many seconds undecided, `escalateTo` are notified (and may vote all along). */
  @Column({ name: 'escalate_after', type: 'int', nullable: true }) escalateAfter: number | null;
  @Column({ name: 'escalate_to', type: 'jsonb' }) escalateTo: string[];
  /** A reminder to the approvers who have not voted, this many seconds after parking. */
  @Column({ name: 'remind_after', type: 'int', nullable: true }) remindAfter: number | null;
  /** Separation of duties in every set: the delegating human and the agent's operator cannot approve at all. */
  @Column({ name: 'independent_approvers', type: 'boolean' }) independentApprovers: boolean;
  @Column({ name: 'agent_operator', type: 'text', nullable: true }) agentOperator: string | null;

  @Column({ name: 'delivery_mode', type: 'text' }) deliveryMode: DeliveryMode;
  @Column({ name: 'notification_endpoint', type: 'text', nullable: true }) notificationEndpoint: string | null;
  @Column({ name: 'notification_token', type: 'text', nullable: true }) notificationToken: string | null;
  @Column({ name: 'callback_state', type: 'text' }) callbackState: CallbackState;

  @Column({ name: 'mcp_session_id', type: 'text', nullable: true }) mcpSessionId: string | null;
  @Column({ name: 'a2a_interaction_id', type: 'text', nullable: true }) a2aInteractionId: string | null;
  @Column({ name: 'request_id', type: 'text', nullable: true }) requestId: string | null;

  @Column({ name: 'poll_interval', type: 'int' }) pollInterval: number;
  @Column({ name: 'last_polled_at', type: 'timestamptz', nullable: true }) lastPolledAt: Date | null;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true }) decidedAt: Date | null;
  @Column({ name: 'token_redeemed_at', type: 'timestamptz', nullable: true }) tokenRedeemedAt: Date | null;
  @Column({ name: 'token_jti', type: 'text', nullable: true }) tokenJti: string | null;
  /**
   * The policy decision (dec_…) that parked this call through /v1/authorize; null when a gateway
   * or a facade's client (CIBA) parked it directly. Set by the service, never from the request body: it is
   * what tells the redeem that there is a decision to repeat.
   */
  @Column({ name: 'decision_id', type: 'text', nullable: true }) decisionId: string | null;
  /** The last re-evaluation at redeem (see redeem-reevaluation.port.ts); null until one ran. */
  @Column({ type: 'jsonb', nullable: true }) reevaluation: Reevaluation | null;
  /** Why the request was settled when no approver decided it (e.g. delegation_revoked). */
  @Column({ name: 'settled_reason', type: 'text', nullable: true }) settledReason: string | null;
  /** The standing approvals the policy allows on this call (set by the authorization engine only); null: this call only. */
  @Column({ name: 'standing_offer', type: 'jsonb', nullable: true }) standingOffer: StandingOffer | null;
  /** The proof a vote must carry (the policy's `@proof`, set by the authorization engine only): 'passkey', or null for the link alone. */
  @Column({ type: 'text', nullable: true }) proof: 'passkey' | null;
}
