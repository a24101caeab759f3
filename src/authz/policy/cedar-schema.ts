import { TimeFacts } from './decision-time';
import type { AgentFlags, AutonomyFacts } from './history-facts';

/**
 * The Cedar schema policies are validated against. Facts about this one call travel as
 * `context`; what has a hierarchy travels as entities (entities.ts): the agent in its class, the
 * human in their groups, the tool in its category and server, and the upstream actors of the
 * chain. Converting entities costs more than evaluating (STACK-NOTES), so the engine sends them
 * only to policy sets that can reach them (entities.ts, reachesEntities).
 *
 * Only ever ADD to this schema: published policy sets are re-validated against it when they are
 * activated and when a catalogue changes. The flat facts that the richer members now say better
 * (`amount`/`has_amount` beside a catalogued tool's typed `input`, `session_calls` beside
 * `velocity`, `hour_of_day` beside `time`, `human` beside `user`, `trust_level` beside the
 * principal's attribute) stay for the sets written against them: no policy set is migrated, and
 * the starter set still reads `amount` (it must work for tenants without a catalogue).
 */
export const CEDAR_SCHEMA = `
type WallClock = { zone: String, date: String, hour: Long, minute: Long, minute_of_day: Long, weekday: Long };
type HopDelegation = { id: String, purpose?: String, granted_at: datetime, not_before: datetime, expires_at?: datetime, window_seconds?: Long, remaining_seconds?: Long, tools: Set<String>, resources?: Set<String> };
type ToolAnnotations = { title?: String, readOnlyHint?: Bool, destructiveHint?: Bool, idempotentHint?: Bool, openWorldHint?: Bool };
entity Group;
entity User in [Group] = { status: String } tags String;
entity AgentClass;
entity Agent in [AgentClass] = { trust_level: String, operator: String };
entity ToolCategory;
entity Server;
entity Tool in [ToolCategory, Server] = { category: String, server: String, name: String, annotations: ToolAnnotations };
action call_tool appliesTo {
  principal: Agent,
  resource: Tool,
  context: {
    agent_class: String,
    trust_level: String,
    human: String,
    chain_length: Long,
    granted: Bool,
    intent_category: String,
    action_category: String,
    server: String,
    tool: String,
    resource_id: String,
    resource_type: String,
    resource_classification: String,
    environment: String,
    has_amount: Bool,
    amount: Long,
    external_destination: Bool,
    bulk: Bool,
    reason_given: Bool,
    session_calls: Long,
    prior_denials: Long,
    prior_step_ups: Long,
    hour_of_day: Long,
    gateway_signals: Set<String>,
    time: { now: datetime, epoch_seconds: Long, utc: WallClock, tenant: WallClock },
    network: String,
    velocity: { last_60s: Long, last_300s: Long, last_3600s: Long },
    user: User,
    chain: Set<Agent>,
    chain_has_third_party: Bool,
    chain_trust_levels: Set<String>,
    delegation: HopDelegation,
    human_entitlement: { recorded: Bool, covers_call: Bool, tools: Set<String>, resources?: Set<String> },
    delegation_chain: { hops: Long, purposes: Set<String>, without_purpose: Long, without_expiry: Long, shortest_window_seconds?: Long, soonest_expires_at?: datetime, soonest_remaining_seconds?: Long },
    agent_flags: { last_24h: Long, last_7d: Long, last_30d: Long },
    autonomy: { consecutive_approvals: Long, approvals: Long, denials: Long, flags: Long, days_since_last_denial: Long, days_since_last_flag: Long },
  }
};
`;

/** The windows of `context.velocity` (seconds), fixed by the schema: `last_<n>s` for each. */
export const VELOCITY_WINDOWS = [60, 300, 3600] as const;
export type Velocity = Record<`last_${(typeof VELOCITY_WINDOWS)[number]}s`, number>;

/** The facts of one call, as the policies see them. */
export interface CallFacts {
  agent_id: string;
  agent_class: string;
  trust_level: string;
  human: string;
  chain_length: number;
  granted: boolean;
  intent_category: string;
  action_category: string;
  server: string;
  tool: string;
  resource_id: string;
  resource_type: string;
  resource_classification: string;
  environment: string;
  /** Whole units of the call's amount argument, when it has one. */
  amount: number | null;
  external_destination: boolean;
  bulk: boolean;
  reason_given: boolean;
  session_calls: number;
  prior_denials: number;
  prior_step_ups: number;
  hour_of_day: number;
  gateway_signals: string[];
  /** The decision time (see decision-time.ts). */
  time: TimeFacts;
  /** The gateway's network provenance (risk.network), lower-cased; "" when it sent none. */
  network: string;
  /** Calls in this session in each window, this one included. */
  velocity: Velocity;
  // What the entities are built from (entities.ts). Absent: the defaults there (no groups, no
  // upstream actors, no annotations, status "unknown", no operator).
  /** Who runs the current actor (the token's `operator` claim); "" when it does not say. */
  operator?: string;
  /** The human as the directory knows them. */
  user?: UserFacts;
  /** The actors upstream of the current one, nearest first (the chain's other agents). */
  upstream?: ActorFacts[];
  /** The tool's MCP annotations, from the catalogue. */
  tool_annotations?: ToolAnnotations;
  /** The call's resource as the tenant registered it (absent: not registered; only the envelope's facts). */
  resource?: ResourceFacts;
  /**
   * The delegation each hop acts under, the human's grant first and the current actor's last
   * (`context.delegation`, `context.delegation_chain`: delegation-facts.ts). Absent when no policy
   * of the set reads them (the engine's `observes`), and empty when the chain holds none in force.
   */
  delegations?: DelegationFacts[];
  /** What the human holds themselves (`context.human_entitlement`); absent when no policy reads it. */
  human_entitlement?: HumanEntitlementFacts;
  // Read from the history of human judgement only when the active set can observe them
  // (history-facts.ts); absent otherwise, which a set that does not read them cannot tell.
  /** Flagged sampled reviews of the current agent. */
  agent_flags?: AgentFlags;
  /** Human decisions on approvals of this agent class, tool and resource classification. */
  autonomy?: AutonomyFacts;
}

/**
 * The human's own entitlements as a policy sees them. `recorded` false: the tenant keeps none for
 * them, so they are unrestricted (the built-in `not_entitled` never fires) and `covers_call` is
 * true; a house that wants every human's rights on record writes `context.human_entitlement.recorded`.
 */
export interface HumanEntitlementFacts {
  recorded: boolean;
  /** The call's tool and resource are within them (always true when none are recorded). */
  covers_call: boolean;
  /** Their tool patterns ("server/tool", "server/*", "*"); empty when none are recorded. */
  tools: string[];
  /** Their resource patterns; absent: any resource (or none recorded). */
  resources?: string[];
}

/** One hop's delegation as a policy sees it (the one of the hop's delegations in force that covers the call). */
export interface DelegationFacts {
  id: string;
  /** As granted; null when the grant stated none. */
  purpose: string | null;
  /** ISO 8601 instants (facts are audited and stored with a parked call as JSON). */
  granted_at: string;
  not_before: string | null;
  expires_at: string | null;
  tools: string[];
  /** null: any resource. */
  resources: string[] | null;
}

/** A registered resource: an entity of its declared type (`context.<type>`), see authz/resources. */
export interface ResourceFacts {
  /** The declared type: a Cedar entity type of the tenant's schema. */
  type: string;
  id: string;
  classification: string;
  environment: string;
  /** A user id (`User::"<owner>"`). */
  owner: string;
  /** The owner as the directory knows them, for their User entity when they are not the human. */
  owner_user: UserFacts;
  /** The declared attributes, as Cedar JSON values (decimals as escapes). */
  attributes: Record<string, unknown>;
}

/** "active" or "disabled": in the tenant's directory with that status; "unknown": not in it. */
export type UserStatus = 'active' | 'disabled' | 'unknown';

export interface UserFacts {
  status: UserStatus;
  /** The directory groups the human is a member of, directly or through a group in a group (`User in Group`). */
  groups: string[];
  /** Directory attributes (department, cost centre, …): the User entity's tags. Absent: none. */
  attributes?: Record<string, string>;
}

/** One actor of the delegation chain, as its own `act` claim describes it. */
export interface ActorFacts {
  id: string;
  agent_class: string;
  trust_level: string;
  operator: string;
}

/** MCP's tool annotations (hints the server gives; absent when it gives none). */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}
