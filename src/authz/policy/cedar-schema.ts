import { TimeFacts } from './decision-time';

/**
 * The Cedar schema policies are validated against. Facts travel as `context` rather than as
 * entity attributes: converting entities costs more than evaluating (STACK-NOTES), and every
 * fact here is about this one call anyway.
 */
export const CEDAR_SCHEMA = `
type WallClock = { zone: String, date: String, hour: Long, minute: Long, minute_of_day: Long, weekday: Long };
entity Agent;
entity Tool;
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
}
