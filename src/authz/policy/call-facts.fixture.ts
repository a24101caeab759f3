import type { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';

/**
 * The facts of an ordinary call for the engine's specs: alice's certified payments agent, granted,
 * at noon UTC on a Monday, nothing risky. A spec overrides what its cases are about.
 */
export function callFacts(overrides: Partial<CallFacts> = {}): CallFacts {
  return {
    agent_id: 'pay-agent',
    agent_class: 'payments',
    trust_level: 'first_party_certified',
    human: 'alice',
    chain_length: 1,
    granted: true,
    intent_category: 'pay',
    action_category: 'pay',
    server: 'payments-mcp',
    tool: 'transfer_funds',
    resource_id: '',
    resource_type: '',
    resource_classification: 'internal',
    environment: 'production',
    amount: null,
    external_destination: false,
    bulk: false,
    reason_given: true,
    session_calls: 0,
    prior_denials: 0,
    prior_step_ups: 0,
    hour_of_day: 12,
    gateway_signals: [],
    time: timeFacts(new Date('2026-12-07T12:00:00Z'), 'UTC'),
    network: '',
    velocity: { last_60s: 1, last_300s: 1, last_3600s: 1 },
    ...overrides,
  };
}
