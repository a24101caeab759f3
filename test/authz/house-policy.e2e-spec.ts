/**
 * A realistic house policy (fixtures/house-policy.ts) published in one tenant, with its tool
 * catalogue, directory people and groups, entitlements and delegations, and a table of scenarios
 * run end to end (real HTTP, Postgres, Redis): each row through POST /v1/authorize and through
 * AuthZEN (POST /access/v1/evaluation), both answers checked against the row's verdict, reasons
 * and obligations.
 *
 * Time is made deterministic by the gateway's observed_at: the tenant's zone is a fixed offset
 * chosen so that its wall clock reads 12:xx now (no midnight within reach), the change window is
 * placed 10 to 40 minutes ahead of the test's start, and the skew allowed is an hour. Velocity
 * rows build their session's history first (calls, or calls written where the service counts
 * them, at a chosen age). Each row and each face has its own MCP session. The window's weekday is
 * today's on the tenant's clock: another weekday lies beyond any skew the service allows (an hour),
 * so "the same minute on a closed day" is left to decision-time.spec.ts and context-facts.e2e-spec.ts.
 *
 * Registered resources (`context.<Type>`: a BankAccount's owner, a Document's department) have
 * their own end-to-end table in resources.e2e-spec.ts; this house registers none.
 */
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { ATTRIBUTES, CATALOGUE, ChangeWindow, GROUPS, housePolicy, HUMANS, INTERNAL_DOMAIN, NESTED, TOOL_CATEGORIES } from './fixtures/house-policy';

const TENANT = 'house';
const SKEW_SECONDS = 3600;
const MINUTE = 60_000;

// ── Who acts: each identity is a token (human, chain of actors, claims) ──────────────────────
interface Identity {
  human: string;
  /** Current actor first. */
  actors: string[];
  agentClass: string;
  trust?: string;
  operator?: string;
  actClaims?: Record<string, Record<string, unknown>>;
}
const upstream = (agent_class: string, trust_level: string) => ({ agent_class, trust_level });
const TREASURY = { agentClass: 'payments', operator: 'treasury-ops' };
const IDENTITIES = {
  'paula/pay': { human: 'paula', actors: ['pay-agent'], ...TREASURY },
  'paula/pay-growth-team': { human: 'paula', actors: ['pay-agent'], agentClass: 'payments', operator: 'growth-team' },
  'paula/pay-third-party': { human: 'paula', actors: ['pay-agent'], ...TREASURY, trust: 'third_party' },
  'paula/assistant': { human: 'paula', actors: ['assistant-agent'], agentClass: 'assistant' },
  'paula/expenses': { human: 'paula', actors: ['expense-agent'], ...TREASURY },
  'paula/unstated': { human: 'paula', actors: ['misc-pay-agent'], ...TREASURY },
  'paula/temp': { human: 'paula', actors: ['temp-pay-agent'], ...TREASURY },
  'paula/weekly': { human: 'paula', actors: ['weekly-pay-agent'], ...TREASURY },
  'paula/via-vendor': {
    human: 'paula',
    actors: ['pay-agent', 'vendor-orch'],
    ...TREASURY,
    actClaims: { 'vendor-orch': upstream('orchestration', 'third_party') },
  },
  'paula/via-fin-orch': {
    human: 'paula',
    actors: ['pay-agent', 'fin-orch'],
    ...TREASURY,
    actClaims: { 'fin-orch': upstream('orchestration', 'first_party_certified') },
  },
  'paula/deep': {
    human: 'paula',
    actors: ['pay-agent', 'o3', 'o2', 'o1'],
    ...TREASURY,
    actClaims: Object.fromEntries(['o1', 'o2', 'o3'].map((o) => [o, upstream('orchestration', 'first_party_certified')])),
  },
  'hana/hr': { human: 'hana', actors: ['hr-agent'], agentClass: 'hr' },
  'holly/hr': { human: 'holly', actors: ['hr-agent'], agentClass: 'hr' },
  'harry/hr': { human: 'harry', actors: ['hr-agent'], agentClass: 'hr' },
  'hugh/hr': { human: 'hugh', actors: ['hr-agent'], agentClass: 'hr' },
  'hana/assistant': { human: 'hana', actors: ['assistant-agent'], agentClass: 'assistant' },
  'hana/hr-unknown-trust': { human: 'hana', actors: ['hr-agent'], agentClass: 'hr', trust: 'unknown' },
  'hana/via-vendor': {
    human: 'hana',
    actors: ['hr-agent', 'vendor-hr'],
    agentClass: 'hr',
    actClaims: { 'vendor-hr': upstream('orchestration', 'third_party') },
  },
  'hana/via-people-orch': {
    human: 'hana',
    actors: ['hr-agent', 'people-orch'],
    agentClass: 'hr',
    actClaims: { 'people-orch': upstream('orchestration', 'first_party_certified') },
  },
  'mia/mail': { human: 'mia', actors: ['mail-agent'], agentClass: 'assistant' },
  'mia/vendor-mailer': { human: 'mia', actors: ['vendor-mailer'], agentClass: 'assistant', trust: 'third_party' },
  'dan/data': { human: 'dan', actors: ['data-agent'], agentClass: 'analytics' },
  'lea/data': { human: 'lea', actors: ['data-agent'], agentClass: 'analytics' },
  'sam/ops': { human: 'sam', actors: ['ops-agent'], agentClass: 'sre' },
  'otto/ops': { human: 'otto', actors: ['ops-agent'], agentClass: 'sre' },
  'sam/assistant': { human: 'sam', actors: ['assistant-agent'], agentClass: 'assistant' },
  'una/crm': { human: 'una', actors: ['crm-agent'], agentClass: 'sales' },
  'ed/crm': { human: 'ed', actors: ['crm-agent'], agentClass: 'sales' },
  'cora/crm': { human: 'cora', actors: ['crm-agent'], agentClass: 'sales' },
  'vic/crm': { human: 'vic', actors: ['crm-agent'], agentClass: 'sales' },
  'nora/crm': { human: 'nora', actors: ['crm-agent'], agentClass: 'sales' },
} satisfies Record<string, Identity>;
type As = keyof typeof IDENTITIES;

const HOUR = 3600_000;
/** Delegations, parents before children; `parent` names an earlier grant's key. paula's are for invoicing unless they say otherwise. */
const GRANTS: { key: string; human: string; agent: string; tools: string[]; parent?: string; purpose?: string | null; expiresInMs?: number }[] = [
  { key: 'paula>pay', human: 'paula', agent: 'pay-agent', tools: ['payments-mcp/*'] },
  { key: 'paula>assistant', human: 'paula', agent: 'assistant-agent', tools: ['payments-mcp/transfer_funds'] },
  { key: 'paula>vendor', human: 'paula', agent: 'vendor-orch', tools: ['payments-mcp/*'] },
  { key: 'vendor>pay', human: 'paula', agent: 'pay-agent', tools: ['payments-mcp/*'], parent: 'paula>vendor' },
  { key: 'paula>fin-orch', human: 'paula', agent: 'fin-orch', tools: ['payments-mcp/*'] },
  { key: 'fin-orch>pay', human: 'paula', agent: 'pay-agent', tools: ['payments-mcp/*'], parent: 'paula>fin-orch' },
  { key: 'paula>o1', human: 'paula', agent: 'o1', tools: ['payments-mcp/*'] },
  { key: 'o1>o2', human: 'paula', agent: 'o2', tools: ['payments-mcp/*'], parent: 'paula>o1' },
  { key: 'o2>o3', human: 'paula', agent: 'o3', tools: ['payments-mcp/*'], parent: 'o1>o2' },
  { key: 'o3>pay', human: 'paula', agent: 'pay-agent', tools: ['payments-mcp/*'], parent: 'o2>o3' },
  // Granted for other purposes, or none, or for less than a day (pay-purpose-invoicing, pay-short-delegation).
  { key: 'paula>expenses', human: 'paula', agent: 'expense-agent', tools: ['payments-mcp/*'], purpose: 'travel expenses' },
  { key: 'paula>misc', human: 'paula', agent: 'misc-pay-agent', tools: ['payments-mcp/*'], purpose: null },
  { key: 'paula>temp', human: 'paula', agent: 'temp-pay-agent', tools: ['payments-mcp/*'], expiresInMs: 12 * HOUR },
  { key: 'paula>weekly', human: 'paula', agent: 'weekly-pay-agent', tools: ['payments-mcp/*'], expiresInMs: 7 * 24 * HOUR },
  ...['hana', 'holly', 'harry', 'hugh'].map((h) => ({ key: `${h}>hr`, human: h, agent: 'hr-agent', tools: ['hr-mcp/*'] })),
  { key: 'hana>assistant', human: 'hana', agent: 'assistant-agent', tools: ['hr-mcp/*'] },
  { key: 'hana>vendor-hr', human: 'hana', agent: 'vendor-hr', tools: ['hr-mcp/*'] },
  { key: 'vendor-hr>hr', human: 'hana', agent: 'hr-agent', tools: ['hr-mcp/*'], parent: 'hana>vendor-hr' },
  { key: 'hana>people-orch', human: 'hana', agent: 'people-orch', tools: ['hr-mcp/*'] },
  { key: 'people-orch>hr', human: 'hana', agent: 'hr-agent', tools: ['hr-mcp/*'], parent: 'hana>people-orch' },
  { key: 'mia>mail', human: 'mia', agent: 'mail-agent', tools: ['mail-mcp/*'] },
  { key: 'mia>vendor-mailer', human: 'mia', agent: 'vendor-mailer', tools: ['mail-mcp/*'] },
  { key: 'dan>data', human: 'dan', agent: 'data-agent', tools: ['data-mcp/*'] },
  { key: 'lea>data', human: 'lea', agent: 'data-agent', tools: ['data-mcp/*'] },
  { key: 'sam>ops', human: 'sam', agent: 'ops-agent', tools: ['infra-mcp/*'] },
  { key: 'otto>ops', human: 'otto', agent: 'ops-agent', tools: ['infra-mcp/*'] },
  { key: 'sam>assistant', human: 'sam', agent: 'assistant-agent', tools: ['infra-mcp/*'] },
  // una holds crm/* herself but gave her agent lookups only; ed gave crm/* and has since lost deletes.
  { key: 'una>crm', human: 'una', agent: 'crm-agent', tools: ['crm/lookup_customer'] },
  { key: 'ed>crm', human: 'ed', agent: 'crm-agent', tools: ['crm/*'] },
  { key: 'cora>crm', human: 'cora', agent: 'crm-agent', tools: ['crm/*'] },
  // vic delegated crm/* and has since left: the directory disables her after the grants.
  { key: 'vic>crm', human: 'vic', agent: 'crm-agent', tools: ['crm/*'] },
  // nora keeps no entitlements on record: unrestricted for the built-in, but crm-delete-held-by-human wants a record.
  { key: 'nora>crm', human: 'nora', agent: 'crm-agent', tools: ['crm/*'] },
];
/** The humans' own entitlements (the others have none recorded: unrestricted). */
const ENTITLEMENTS: Record<string, string[]> = { paula: ['payments-mcp/*'], una: ['crm/*'], ed: ['crm/*'], cora: ['crm/*'] };
/** Changed after the grants: ed no longer holds deletes. */
const ENTITLEMENTS_LATER: Record<string, string[]> = { ed: ['crm/lookup_customer'] };
/** People the directory disables after their grants. */
const DISABLED_LATER = ['vic'];

// ── The calls ─────────────────────────────────────────────────────────────────────────────
interface Clock {
  /** The change window's first and end instants (ms since the epoch). */
  windowStart: number;
  windowEnd: number;
}
interface Call {
  as: As;
  /** "server/tool". */
  tool: string;
  args: Record<string, unknown>;
  /** Default: the tool's own category (a consistent intent); null: none stated. */
  intent?: { category?: string; text?: string } | null;
  resource?: { id: string; type: string; classification?: string };
  environment?: string;
  /** Default: a ticket reference; null: none. */
  reason?: string | null;
  /** Default: "corporate"; null: none sent. */
  network?: string | null;
  signals?: string[];
  /** observed_at, from the test's clock. */
  at?: (c: Clock) => number;
}
interface History {
  /** Calls made first in the row's session (through /v1/authorize). */
  calls?: { n: number; call: Call };
  /** Calls written straight where the service counts the session's calls, this long ago. */
  injected?: { n: number; agoMs: number };
}
interface Row {
  name: string;
  call: Call;
  before?: History;
  verdict: 'allow' | 'deny' | 'allow_with_obligations';
  reasons: string[];
  /** Summaries of the obligations, in the order the decision lists them (see summary()). */
  obligations?: string[];
}

const IBAN = 'DE89370400440532013000';
const transfer = (amount: number, currency = 'EUR', extra: Record<string, unknown> = {}) => ({
  amount,
  currency,
  to: { iban: IBAN, name: 'Supplier GmbH' },
  ...extra,
});
const memo = { memo: 'INV-2026-118' };
const pay = (as: As, args: Record<string, unknown>, extra: Partial<Call> = {}): Call => ({ as, tool: 'payments-mcp/transfer_funds', args, ...extra });
const balance = (as: As = 'paula/pay', extra: Partial<Call> = {}): Call => ({ as, tool: 'payments-mcp/get_balance', args: { account: 'acct-7' }, ...extra });
const employee = (as: As, fields: string[], extra: Partial<Call> = {}): Call => ({
  as,
  tool: 'hr-mcp/read_employee',
  args: { employee_id: 'e-17', fields },
  ...extra,
});
const salaries = (as: As): Call => ({ as, tool: 'hr-mcp/read_salaries', args: { team: 'platform' } });
const INSIDE = `colleague@${INTERNAL_DOMAIN}`;
const OUTSIDE = 'client@partner.example';
const ATTACHMENT = [{ file_id: 'f-1', label: 'internal' }];
const mail = (to: string[], extra: Record<string, unknown> = {}, call: Partial<Call> = {}): Call => ({
  as: 'mia/mail',
  tool: 'mail-mcp/send_email',
  args: { to, subject: 'Q4 numbers', body: 'See attached.', ...extra },
  ...call,
});
const BI = `https://bi.${INTERNAL_DOMAIN}/inbox`;
const PARTNER = 'https://partner.example/drop';
const exportTable = (destination: string, extra: Record<string, unknown> = {}, call: Partial<Call> = {}): Call => ({
  as: 'dan/data',
  tool: 'data-mcp/export_table',
  args: { table: 'sales_orders', destination, format: 'csv', ...extra },
  ...call,
});
const deploy = (as: As, environment: string, extra: Partial<Call> = {}): Call => ({
  as,
  tool: 'infra-mcp/deploy_service',
  args: { service: 'billing-api', version: '2026.12.1', environment },
  ...extra,
});
const crm = (as: As, tool: 'lookup_customer' | 'delete_customer', environment = 'staging'): Call => ({
  as,
  tool: `crm/${tool}`,
  args: { customer_id: 'c-9' },
  environment,
});

// Obligation summaries: approvers, quorum, expiry, separation of duties; or the review rate.
const FINANCE = 'group:finance q1 900s independent';
const TREASURY_2 = 'group:treasury q2 3600s independent';
const DELEGATOR = 'delegator q1';
const DELEGATOR_600 = 'delegator q1 600s';
const SECURITY = 'group:security q1 1800s';
const HR_LEADS = 'group:hr-leads q1 1800s';
const STEWARDS = 'group:data-stewards q1 3600s';
const SRE_2 = 'group:sre q2 1200s independent';
const SAMPLED = 'sampled 0.25';

const inWindow = (c: Clock) => c.windowStart;
const lastMsOfWindow = (c: Clock) => c.windowEnd - 1;
const windowEnd = (c: Clock) => c.windowEnd;
const beforeWindow = (c: Clock) => c.windowStart - 1;

const ROWS: Row[] = [
  // ── Each hop's delegation: its purpose and its window ──
  {
    name: 'a transfer under a delegation granted for travel expenses, not invoicing, is denied',
    call: pay('paula/expenses', transfer(500)),
    verdict: 'deny',
    reasons: ['purpose_not_invoicing'],
  },
  {
    name: 'a transfer under a delegation that states no purpose is denied',
    call: pay('paula/unstated', transfer(500)),
    verdict: 'deny',
    reasons: ['purpose_not_invoicing'],
  },
  {
    name: 'a chain whose every hop was granted for invoicing (human → orchestrator → payments agent) transfers',
    call: pay('paula/via-fin-orch', transfer(500)),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  { name: 'a delegation granted for less than a day moves 500.00 EUR', call: pay('paula/temp', transfer(500)), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'a delegation granted for less than a day may not move 1000.01 EUR, even with approval',
    call: pay('paula/temp', transfer(1000.01)),
    verdict: 'deny',
    reasons: ['short_delegation_over_threshold'],
  },
  {
    name: "a delegation granted for a week moves 1000.01 EUR with finance's approval",
    call: pay('paula/weekly', transfer(1000.01)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },

  // ── Directory attributes and nested groups ──
  {
    name: 'a contracts table exported for a human of the legal department goes to a data steward',
    call: exportTable(BI, { table: 'contracts_2026' }, { as: 'lea/data' }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'export_needs_steward'],
    obligations: [STEWARDS],
  },
  {
    name: 'a contracts table exported for a human of another department is denied',
    call: exportTable(BI, { table: 'contracts_2026' }),
    verdict: 'deny',
    reasons: ['contracts_legal_only'],
  },
  {
    name: 'hugh is in hr only through hr-comp (a group in hr): his HR agent reads an employee record',
    call: employee('hugh/hr', ['name']),
    verdict: 'allow',
    reasons: ['delegated', 'hr_read_sampled'],
    obligations: [SAMPLED],
  },
  { name: 'hugh, of hr-comp, reads salaries', call: salaries('hugh/hr'), verdict: 'allow', reasons: ['delegated', 'hr_read_sampled'], obligations: [SAMPLED] },

  // ── Payments: thresholds and currencies ──
  { name: "a 500.00 EUR transfer by treasury's payments agent is allowed", call: pay('paula/pay', transfer(500)), verdict: 'allow', reasons: ['delegated'] },
  { name: 'exactly 1000.00 EUR is not over the finance threshold', call: pay('paula/pay', transfer(1000)), verdict: 'allow', reasons: ['delegated'] },
  {
    name: '1000.01 EUR needs one independent finance approver within 15 minutes',
    call: pay('paula/pay', transfer(1000.01)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  {
    name: '1000.50 GBP needs finance like EUR',
    call: pay('paula/pay', transfer(1000.5, 'GBP')),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  { name: 'exactly 500.00 USD is not over the USD threshold', call: pay('paula/pay', transfer(500, 'USD')), verdict: 'allow', reasons: ['delegated'] },
  {
    name: '500.01 USD is over the lower USD threshold',
    call: pay('paula/pay', transfer(500.01, 'USD')),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  {
    name: 'a CHF transfer is denied: not a house currency, though the tool accepts it',
    call: pay('paula/pay', transfer(400, 'CHF')),
    verdict: 'deny',
    reasons: ['currency_not_allowed'],
  },
  {
    name: 'exactly 10000.00 EUR needs no memo (finance still approves)',
    call: pay('paula/pay', transfer(10000)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  {
    name: '10000.01 EUR without a memo is denied (an optional input member that is absent)',
    call: pay('paula/pay', transfer(10000.01)),
    verdict: 'deny',
    reasons: ['memo_required'],
  },
  {
    name: '10000.01 EUR with a memo goes to finance',
    call: pay('paula/pay', transfer(10000.01, 'EUR', memo)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  {
    name: '50000.01 EUR needs finance AND two treasurers: two approver sets, each with its own quorum and expiry',
    call: pay('paula/pay', transfer(50000.01, 'EUR', memo)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold', 'payment_over_treasury_threshold'],
    obligations: [FINANCE, TREASURY_2],
  },
  {
    name: 'exactly 50000.00 EUR needs finance only',
    call: pay('paula/pay', transfer(50000, 'EUR', memo)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold'],
    obligations: [FINANCE],
  },
  {
    name: 'exactly the hard cap (250000.00) can still be approved by finance and treasury',
    call: pay('paula/pay', transfer(250000, 'EUR', memo)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold', 'payment_over_treasury_threshold'],
    obligations: [FINANCE, TREASURY_2],
  },
  {
    name: '250000.01 EUR is over the hard cap: denied, no approval can lift it',
    call: pay('paula/pay', transfer(250000.01, 'EUR', memo)),
    verdict: 'deny',
    reasons: ['payment_over_hard_cap'],
  },
  {
    name: 'over the hard cap and without a memo: both rules are named',
    call: pay('paula/pay', transfer(250000.01)),
    verdict: 'deny',
    reasons: ['payment_over_hard_cap', 'memo_required'],
  },
  {
    name: 'a transfer to a Russian IBAN (a nested input member) is denied',
    call: pay('paula/pay', { ...transfer(100), to: { iban: 'RU0204452560040702810412345678901' } }),
    verdict: 'deny',
    reasons: ['sanctioned_destination'],
  },
  {
    name: 'a transfer to a North Korean IBAN is denied',
    call: pay('paula/pay', { ...transfer(100), to: { iban: 'KP12345678' } }),
    verdict: 'deny',
    reasons: ['sanctioned_destination'],
  },
  // ── Payments: network provenance ──
  {
    name: 'a transfer from tor is denied twice over',
    call: pay('paula/pay', transfer(100), { network: 'tor' }),
    verdict: 'deny',
    reasons: ['network_untrusted', 'payment_off_corporate_network'],
  },
  {
    name: 'a transfer from a home network is denied',
    call: pay('paula/pay', transfer(100), { network: 'home-wifi' }),
    verdict: 'deny',
    reasons: ['payment_off_corporate_network'],
  },
  {
    name: 'a transfer from the VPN (any case) is allowed',
    call: pay('paula/pay', transfer(100), { network: 'VPN' }),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'a transfer whose gateway names no network is denied',
    call: pay('paula/pay', transfer(100), { network: null }),
    verdict: 'deny',
    reasons: ['payment_off_corporate_network'],
  },
  // ── Payments: who acts, and who is upstream ──
  {
    name: 'a general assistant paula delegated transfers to is denied: not a payments agent, not run by treasury',
    call: pay('paula/assistant', transfer(100)),
    verdict: 'deny',
    reasons: ['not_a_payments_agent', 'payments_agent_not_operated_by_treasury'],
  },
  {
    name: 'the payments agent as run by another team (operator claim) is denied',
    call: pay('paula/pay-growth-team', transfer(100)),
    verdict: 'deny',
    reasons: ['payments_agent_not_operated_by_treasury'],
  },
  {
    name: 'a payments agent that is itself third-party is denied',
    call: pay('paula/pay-third-party', transfer(100)),
    verdict: 'deny',
    reasons: ['third_party_in_chain'],
  },
  {
    name: 'a third-party orchestrator upstream of a first-party payments agent is denied',
    call: pay('paula/via-vendor', transfer(100)),
    verdict: 'deny',
    reasons: ['third_party_in_chain'],
  },
  {
    name: 'a first-party orchestrator upstream of the payments agent is fine',
    call: pay('paula/via-fin-orch', transfer(100)),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'a chain of four actors is too deep, though every hop is delegated and first party',
    call: pay('paula/deep', transfer(100)),
    verdict: 'deny',
    reasons: ['chain_too_deep'],
  },
  { name: 'reading a balance is allowed', call: balance(), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'reading a balance through a third-party orchestrator is denied (any tool of the payments server)',
    call: balance('paula/via-vendor'),
    verdict: 'deny',
    reasons: ['third_party_in_chain'],
  },
  // ── Payments: intent consistency ──
  {
    name: 'a transfer under a stated intent to summarize is denied',
    call: pay('paula/pay', transfer(100), { intent: { category: 'summarize' } }),
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'a transfer with no stated intent is confirmed by the delegator within 10 minutes',
    call: pay('paula/pay', transfer(100), { intent: null }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'intent_unstated'],
    obligations: [DELEGATOR_600],
  },
  {
    name: 'an intent stated as text ("pay the March invoice") is normalized and consistent',
    call: pay('paula/pay', transfer(100), { intent: { text: 'pay the March invoice' } }),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  // ── Velocity windows ──
  {
    name: 'the second call of the session within a minute is allowed',
    before: { calls: { n: 1, call: pay('paula/pay', transfer(100)) } },
    call: pay('paula/pay', transfer(100)),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'the third call within a minute is a burst: the delegator confirms',
    before: { calls: { n: 2, call: pay('paula/pay', transfer(100)) } },
    call: pay('paula/pay', transfer(100)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_burst'],
    obligations: [DELEGATOR],
  },
  {
    name: 'a burst over the finance threshold needs both the delegator and finance',
    before: { calls: { n: 2, call: balance() } },
    call: pay('paula/pay', transfer(1000.01)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_over_threshold', 'payment_burst'],
    obligations: [FINANCE, DELEGATOR],
  },
  {
    name: 'the sixth call within a minute is a runaway agent: denied',
    before: { calls: { n: 5, call: balance() } },
    call: pay('paula/pay', transfer(100)),
    verdict: 'deny',
    reasons: ['runaway_agent'],
  },
  {
    name: 'calls 90 s ago are outside the 60 s window: no burst',
    before: { injected: { n: 4, agoMs: 90_000 } },
    call: pay('paula/pay', transfer(100)),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'calls 30 s ago are inside the 60 s window: a burst',
    before: { injected: { n: 2, agoMs: 30_000 } },
    call: pay('paula/pay', transfer(100)),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'payment_burst'],
    obligations: [DELEGATOR],
  },
  {
    name: 'sixty calls in the last hour bring security in',
    before: { injected: { n: 60, agoMs: 30 * MINUTE } },
    call: balance(),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'sustained_activity'],
    obligations: [SECURITY],
  },
  {
    name: 'sixty calls two hours ago count for nothing',
    before: { injected: { n: 60, agoMs: 120 * MINUTE } },
    call: balance(),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  // ── Risk: gateway signals and prior denials ──
  {
    name: 'a gateway malware signal denies a small transfer',
    call: pay('paula/pay', transfer(100), { signals: ['malware_suspected'] }),
    verdict: 'deny',
    reasons: ['gateway_blocked'],
  },
  {
    name: 'a gateway prompt-injection signal denies even a read',
    call: balance('paula/pay', { signals: ['prompt_injection'] }),
    verdict: 'deny',
    reasons: ['gateway_blocked'],
  },
  {
    name: 'after three denials in the session even a read is confirmed by the delegator',
    before: { calls: { n: 3, call: pay('paula/pay', transfer(1, 'CHF')) } },
    call: balance(),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'repeated_denials'],
    obligations: [DELEGATOR],
  },
  {
    name: 'two denials in the session are not yet repeated denials',
    before: { calls: { n: 2, call: pay('paula/pay', transfer(1, 'CHF')) } },
    call: balance(),
    verdict: 'allow',
    reasons: ['delegated'],
  },

  // ── HR data by group ──
  {
    name: "an HR member's HR agent reads an employee record, sampled for review",
    call: employee('hana/hr', ['name', 'title']),
    verdict: 'allow',
    reasons: ['delegated', 'hr_read_sampled'],
    obligations: [SAMPLED],
  },
  {
    name: 'another HR member reads the same record',
    call: employee('holly/hr', ['name', 'title']),
    verdict: 'allow',
    reasons: ['delegated', 'hr_read_sampled'],
    obligations: [SAMPLED],
  },
  {
    name: 'a human outside group hr is denied, though the agent was delegated hr-mcp/*',
    call: employee('harry/hr', ['name']),
    verdict: 'deny',
    reasons: ['hr_group_only'],
  },
  {
    name: "an HR member's general assistant is denied: not an HR agent",
    call: employee('hana/assistant', ['name']),
    verdict: 'deny',
    reasons: ['hr_agent_only'],
  },
  {
    name: 'asking for the SSN (an input array member) needs an HR lead',
    call: employee('hana/hr', ['name', 'ssn']),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'hr_read_sampled', 'hr_sensitive_fields'],
    obligations: [HR_LEADS, SAMPLED],
  },
  {
    name: 'asking for bank details needs an HR lead too',
    call: employee('holly/hr', ['bank_account']),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'hr_read_sampled', 'hr_sensitive_fields'],
    obligations: [HR_LEADS, SAMPLED],
  },
  {
    name: 'a non-member asking for the SSN is denied, not routed to approval',
    call: employee('harry/hr', ['ssn']),
    verdict: 'deny',
    reasons: ['hr_group_only'],
  },
  { name: 'salaries are read by hr-comp', call: salaries('hana/hr'), verdict: 'allow', reasons: ['delegated', 'hr_read_sampled'], obligations: [SAMPLED] },
  { name: 'an HR member outside hr-comp is denied salaries', call: salaries('holly/hr'), verdict: 'deny', reasons: ['compensation_restricted'] },
  {
    name: 'a non-member is denied salaries on both counts',
    call: salaries('harry/hr'),
    verdict: 'deny',
    reasons: ['compensation_restricted', 'hr_group_only'],
  },
  {
    name: 'a third-party orchestrator upstream of the HR agent is denied',
    call: employee('hana/via-vendor', ['name']),
    verdict: 'deny',
    reasons: ['third_party_on_hr_data'],
  },
  {
    name: 'an HR agent whose trust is unknown is denied',
    call: employee('hana/hr-unknown-trust', ['name']),
    verdict: 'deny',
    reasons: ['third_party_on_hr_data'],
  },
  {
    name: 'a first-party orchestrator upstream of the HR agent is fine',
    call: employee('hana/via-people-orch', ['name']),
    verdict: 'allow',
    reasons: ['delegated', 'hr_read_sampled'],
    obligations: [SAMPLED],
  },
  {
    name: 'a read under a broader stated intent (export) is not a mismatch',
    call: employee('hana/hr', ['name'], { intent: { category: 'export' } }),
    verdict: 'allow',
    reasons: ['delegated', 'hr_read_sampled'],
    obligations: [SAMPLED],
  },

  // ── E-mail with attachments ──
  { name: 'a mail to a colleague is allowed', call: mail([INSIDE]), verdict: 'allow', reasons: ['delegated'] },
  { name: 'a mail to a client without attachments is allowed', call: mail([OUTSIDE]), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'a mail with an attachment to a client is confirmed by the delegator',
    call: mail([OUTSIDE], { attachments: ATTACHMENT }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'external_mail_with_attachment'],
    obligations: [DELEGATOR],
  },
  { name: 'a mail with an attachment to a colleague is allowed', call: mail([INSIDE], { attachments: ATTACHMENT }), verdict: 'allow', reasons: ['delegated'] },
  { name: 'an empty attachment list to a client is no attachment', call: mail([OUTSIDE], { attachments: [] }), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'a client in cc counts as external',
    call: mail([INSIDE], { cc: [OUTSIDE], attachments: ATTACHMENT }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'external_mail_with_attachment'],
    obligations: [DELEGATOR],
  },
  {
    name: 'a subdomain of the house is internal',
    call: mail([`team@eu.${INTERNAL_DOMAIN}`], { attachments: ATTACHMENT }),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'a confidential document attached for a client is denied',
    call: mail(
      [OUTSIDE],
      { attachments: [{ file_id: 'doc-9', label: 'confidential' }] },
      { resource: { id: 'doc-9', type: 'document', classification: 'confidential' } },
    ),
    verdict: 'deny',
    reasons: ['confidential_to_external'],
  },
  {
    name: 'a restricted document to a client is denied without attachments too',
    call: mail([OUTSIDE], {}, { resource: { id: 'doc-10', type: 'document', classification: 'restricted' } }),
    verdict: 'deny',
    reasons: ['confidential_to_external'],
  },
  {
    name: 'a confidential document to a colleague is allowed',
    call: mail(
      [INSIDE],
      { attachments: [{ file_id: 'doc-9', label: 'confidential' }] },
      { resource: { id: 'doc-9', type: 'document', classification: 'confidential' } },
    ),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'a third-party mailer writing to a client is denied',
    call: mail([OUTSIDE], {}, { as: 'mia/vendor-mailer' }),
    verdict: 'deny',
    reasons: ['third_party_external_mail'],
  },
  {
    name: 'a third-party mailer writing to a colleague is allowed',
    call: mail([INSIDE], {}, { as: 'mia/vendor-mailer' }),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'sending mail under an intent to summarize is denied',
    call: mail([INSIDE], {}, { intent: { category: 'summarize' } }),
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'two approvals by the same person (no intent; attachment to a client) are asked once, with the shorter expiry',
    call: mail([OUTSIDE], { attachments: ATTACHMENT }, { intent: null }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'intent_unstated', 'external_mail_with_attachment'],
    obligations: [DELEGATOR_600],
  },

  // ── Exports ──
  {
    name: 'an export to the house BI inbox needs a data steward',
    call: exportTable(BI, { row_limit: 500 }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'export_needs_steward'],
    obligations: [STEWARDS],
  },
  {
    name: 'a bounded export to a partner needs a data steward',
    call: exportTable(PARTNER, { row_limit: 500 }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'export_needs_steward'],
    obligations: [STEWARDS],
  },
  { name: 'an unbounded export to a partner is denied', call: exportTable(PARTNER), verdict: 'deny', reasons: ['bulk_external_export'] },
  { name: '10001 rows to a partner is bulk', call: exportTable(PARTNER, { row_limit: 10001 }), verdict: 'deny', reasons: ['bulk_external_export'] },
  {
    name: '10000 rows to a partner is not',
    call: exportTable(PARTNER, { row_limit: 10000 }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'export_needs_steward'],
    obligations: [STEWARDS],
  },
  {
    name: 'an unbounded export inside the house needs a steward only',
    call: exportTable(BI),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'export_needs_steward'],
    obligations: [STEWARDS],
  },
  {
    name: "the gateway's bulk signal makes a small export to a partner bulk",
    call: exportTable(PARTNER, { row_limit: 5 }, { signals: ['bulk'] }),
    verdict: 'deny',
    reasons: ['bulk_external_export'],
  },
  {
    name: 'an HR table never leaves, even internally',
    call: exportTable(BI, { table: 'hr_salaries', row_limit: 10 }),
    verdict: 'deny',
    reasons: ['pii_export'],
  },
  {
    name: 'a table the gateway classifies as PII never leaves',
    call: exportTable(BI, { row_limit: 10 }, { resource: { id: 'customers', type: 'table', classification: 'pii' } }),
    verdict: 'deny',
    reasons: ['pii_export'],
  },
  {
    name: 'an HR table, unbounded, to a partner: both rules are named',
    call: exportTable(PARTNER, { table: 'hr_salaries' }),
    verdict: 'deny',
    reasons: ['bulk_external_export', 'pii_export'],
  },
  {
    name: 'an export without a stated reason is denied',
    call: exportTable(BI, { row_limit: 10 }, { reason: null }),
    verdict: 'deny',
    reasons: ['reason_required'],
  },
  {
    name: 'an export under an intent to summarize is denied',
    call: exportTable(BI, { row_limit: 10 }, { intent: { category: 'summarize' } }),
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'querying a table is allowed',
    call: { as: 'dan/data', tool: 'data-mcp/query_table', args: { table: 'sales_orders', query: 'select 1' } },
    verdict: 'allow',
    reasons: ['delegated'],
  },

  // ── Production change windows, to the minute (tenant wall clock) ──
  { name: 'a staging deployment is allowed at any time', call: deploy('sam/ops', 'staging'), verdict: 'allow', reasons: ['delegated'] },
  { name: 'a staging deployment after the window is allowed', call: deploy('sam/ops', 'staging', { at: windowEnd }), verdict: 'allow', reasons: ['delegated'] },
  {
    name: "a production deployment at the window's first millisecond needs two other SREs",
    call: deploy('sam/ops', 'production', { at: inWindow }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'production_change'],
    obligations: [SRE_2],
  },
  {
    name: "a production deployment at the window's last millisecond needs two other SREs",
    call: deploy('sam/ops', 'production', { at: lastMsOfWindow }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'production_change'],
    obligations: [SRE_2],
  },
  {
    name: "a production deployment at the window's end is denied",
    call: deploy('sam/ops', 'production', { at: windowEnd }),
    verdict: 'deny',
    reasons: ['outside_change_window'],
  },
  {
    name: 'a production deployment one millisecond before the window is denied',
    call: deploy('sam/ops', 'production', { at: beforeWindow }),
    verdict: 'deny',
    reasons: ['outside_change_window'],
  },
  {
    name: 'a production deployment judged by the service clock (no observed_at), before the window, is denied',
    call: deploy('sam/ops', 'production'),
    verdict: 'deny',
    reasons: ['outside_change_window'],
  },
  {
    name: 'a human outside group sre is denied production in the window',
    call: deploy('otto/ops', 'production', { at: inWindow }),
    verdict: 'deny',
    reasons: ['production_needs_sre'],
  },
  {
    name: 'a human outside group sre, outside the window: both named',
    call: deploy('otto/ops', 'production', { at: windowEnd }),
    verdict: 'deny',
    reasons: ['outside_change_window', 'production_needs_sre'],
  },
  { name: "an SRE's general assistant is denied any infra tool", call: deploy('sam/assistant', 'staging'), verdict: 'deny', reasons: ['not_an_sre_agent'] },
  {
    name: 'reading logs is allowed',
    call: { as: 'sam/ops', tool: 'infra-mcp/read_logs', args: { service: 'billing-api' } },
    verdict: 'allow',
    reasons: ['delegated'],
  },
  {
    name: 'a deployment under an intent to read is denied',
    call: deploy('sam/ops', 'dev', { intent: { category: 'read' } }),
    verdict: 'deny',
    reasons: ['intent_mismatch'],
  },
  {
    name: 'a production deployment in the window from tor is denied',
    call: deploy('sam/ops', 'production', { at: inWindow, network: 'tor' }),
    verdict: 'deny',
    reasons: ['network_untrusted'],
  },
  {
    name: 'a production deployment in the window with no stated intent needs the delegator and two other SREs',
    call: deploy('sam/ops', 'production', { at: inWindow, intent: null }),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'intent_unstated', 'production_change'],
    obligations: [DELEGATOR_600, SRE_2],
  },

  // ── The intersection: what the human holds ∩ every hop's delegation ──
  { name: "una's CRM agent looks up a customer, as delegated", call: crm('una/crm', 'lookup_customer'), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'una holds delete_customer herself, but her agent was never granted it: denied',
    call: crm('una/crm', 'delete_customer'),
    verdict: 'deny',
    reasons: ['not_delegated', 'no_permit'],
  },
  {
    name: 'ed delegated crm/* and has since lost deletes himself: denied though the delegation covers it, and the house rule reading his entitlement says so too',
    call: crm('ed/crm', 'delete_customer'),
    verdict: 'deny',
    reasons: ['not_entitled', 'delete_not_held_by_human'],
  },
  {
    name: 'nora keeps no entitlements on record: unrestricted for the built-in, but a delete needs the permission held on record',
    call: crm('nora/crm', 'delete_customer'),
    verdict: 'deny',
    reasons: ['delete_not_held_by_human'],
  },
  {
    name: "nora's agent still looks customers up (the rule is about deletes)",
    call: crm('nora/crm', 'lookup_customer'),
    verdict: 'allow',
    reasons: ['delegated'],
  },
  { name: "ed's agent still looks customers up", call: crm('ed/crm', 'lookup_customer'), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'a production delete by an agent delegated it is confirmed by the delegator',
    call: crm('cora/crm', 'delete_customer', 'production'),
    verdict: 'allow_with_obligations',
    reasons: ['delegated', 'production_delete'],
    obligations: [DELEGATOR],
  },
  { name: 'a staging delete by an agent delegated it is allowed', call: crm('cora/crm', 'delete_customer'), verdict: 'allow', reasons: ['delegated'] },
  {
    name: 'a CRM tool outside the catalogue is denied though the delegation (crm/*) and the house rules would allow it',
    call: { as: 'cora/crm', tool: 'crm/export_all_customers', args: {}, environment: 'staging' },
    verdict: 'deny',
    reasons: ['tool_not_in_catalogue'],
  },
  {
    name: "vic has been disabled: her agent's lookups are denied whatever her delegation says",
    call: crm('vic/crm', 'lookup_customer'),
    verdict: 'deny',
    reasons: ['human_disabled'],
  },
  {
    name: 'the payments agent reaching into HR: neither delegated nor held by paula herself, and the house rules name why else',
    call: employee('paula/pay', ['name']),
    verdict: 'deny',
    reasons: ['not_entitled', 'not_delegated', 'hr_agent_only', 'hr_group_only'],
  },
];

function summary(o: Record<string, any>): string {
  if (o.type === 'sampled_review') return `sampled ${o.rate}`;
  return [o.approvers.join(','), `q${o.quorum}`, o.expires_in ? `${o.expires_in}s` : '', o.independent_approvers ? 'independent' : '']
    .filter(Boolean)
    .join(' ');
}

const STATUS = { allow: 200, deny: 403, allow_with_obligations: 202 } as const;

describe('a house policy, scenario by scenario, through /v1/authorize and AuthZEN', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let redis: Redis;
  const tokens = {} as Record<As, string>;
  let clock: Clock;

  beforeAll(async () => {
    env = await testEnvironment({ directory: false });
    // A fixed-offset zone where it is 12:xx now: the window (10 to 40 minutes ahead) never crosses midnight.
    const t0 = Math.floor(Date.now() / MINUTE) * MINUTE;
    const offset = 12 - new Date(t0).getUTCHours();
    const zone = offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
    const local = new Date(t0 + offset * 60 * MINUTE);
    const localMinute = local.getUTCHours() * 60 + local.getUTCMinutes();
    const window: ChangeWindow = { weekdays: [local.getUTCDay()], fromMinute: localMinute + 10, toMinute: localMinute + 40 };
    clock = { windowStart: t0 + 10 * MINUTE, windowEnd: t0 + 40 * MINUTE };

    api = await env.start({
      DECISION_TIME_SKEW_SECONDS: String(SKEW_SECONDS),
      TENANT_TIME_ZONES: JSON.stringify({ [TENANT]: zone }),
      INTERNAL_DOMAINS: INTERNAL_DOMAIN,
    });
    redis = new Redis(api.config.REDIS_URL);
    gateway = await gatewayToken({ tenant: TENANT, sub: 'gateway-1' });
    const admin = await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    const ok = async (method: string, path: string, body: unknown) => {
      const res = await call(api.url, method, path, { token: admin, body });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };

    // The directory: people (with their own entitlements), then groups.
    const people = [...new Set([...HUMANS, ...Object.values(GROUPS).flat()])];
    await Promise.all(
      people.map((id) =>
        ok('PUT', `/v1/approvers/${id}`, {
          display_name: id,
          email: `${id}@${INTERNAL_DOMAIN}`,
          ...(ENTITLEMENTS[id] ? { entitlements: { tools: ENTITLEMENTS[id] } } : {}),
          ...(ATTRIBUTES[id] ? { attributes: ATTRIBUTES[id] } : {}),
        }),
      ),
    );
    await Promise.all(Object.entries(GROUPS).map(([name, members]) => ok('PUT', `/v1/approver-groups/${name}`, { display_name: name, members })));
    await Promise.all(
      Object.entries(NESTED).map(([name, memberOf]) =>
        ok('PUT', `/v1/approver-groups/${name}`, { display_name: name, members: GROUPS[name], member_of: memberOf }),
      ),
    );
    // The catalogue, then the policy set validated against it.
    for (const [server, list] of Object.entries(CATALOGUE)) await ok('PUT', `/v1/catalogue/servers/${server}`, list);
    await ok('POST', '/v1/policies', { policies: housePolicy(window), tool_categories: TOOL_CATEGORIES, description: 'house policy', activate: true });
    // Delegations, level by level (a sub-agent's hop names its parent).
    const ids: Record<string, string> = {};
    for (let level = GRANTS.filter((g) => !g.parent); level.length; level = GRANTS.filter((g) => g.parent && level.some((p) => p.key === g.parent))) {
      await Promise.all(
        level.map(async (g) => {
          const purpose = g.purpose === undefined ? (g.human === 'paula' ? 'invoicing' : null) : g.purpose;
          const body = {
            human: g.human,
            agent: g.agent,
            tools: g.tools,
            ...(g.parent ? { parent_id: ids[g.parent] } : {}),
            ...(purpose ? { purpose } : {}),
            ...(g.expiresInMs ? { expires_at: new Date(Date.now() + g.expiresInMs).toISOString() } : {}),
          };
          ids[g.key] = ((await ok('POST', '/v1/delegations', body)) as { id: string }).id;
        }),
      );
    }
    expect(Object.keys(ids).sort()).toEqual(GRANTS.map((g) => g.key).sort());
    // Entitlements lost after the grants.
    await Promise.all(Object.entries(ENTITLEMENTS_LATER).map(([id, tools]) => ok('PUT', `/v1/approvers/${id}`, { display_name: id, entitlements: { tools } })));
    await Promise.all(
      DISABLED_LATER.map((id) => ok('PUT', `/v1/approvers/${id}`, { display_name: id, email: `${id}@${INTERNAL_DOMAIN}`, status: 'disabled' })),
    );

    await Promise.all(
      (Object.entries(IDENTITIES) as [As, Identity][]).map(async ([key, i]) => {
        tokens[key] = await agentToken({
          tenant: TENANT,
          human: i.human,
          actors: i.actors,
          agentClass: i.agentClass,
          trust: i.trust,
          actClaims: i.actClaims,
          ...(i.operator ? { claims: { operator: i.operator } } : {}),
        });
      }),
    );
  });
  afterAll(async () => {
    redis?.disconnect();
    await env.teardown();
  });

  /** The call as the envelope of /v1/authorize. */
  const envelope = (c: Call, session: string) => {
    const [server, tool] = c.tool.split('/');
    const intent = c.intent === undefined ? { category: TOOL_CATEGORIES[c.tool] } : c.intent;
    const network = c.network === undefined ? 'corporate' : c.network;
    const reason = c.reason === undefined ? 'ticket HOUSE-118' : c.reason;
    return {
      agent: { token: tokens[c.as] },
      action: { server, tool, arguments: c.args },
      ...(intent ? { intent } : {}),
      ...(c.resource ? { resource: c.resource } : {}),
      ...(c.environment ? { environment: c.environment } : {}),
      ...(reason ? { reason } : {}),
      risk: { signals: c.signals ?? [], ...(network ? { network } : {}) },
      ...(c.at ? { observed_at: new Date(c.at(clock)).toISOString() } : {}),
      correlation: { mcp_session_id: session },
    };
  };

  /**
   * The same call as an AuthZEN evaluation: the agent (its token) as subject; with a resource, the
   * tool as the action; without one, the tool as the resource of "tools/call" (an MCP PEP's mapping).
   */
  const evaluation = (c: Call, session: string) => {
    const e = envelope(c, session);
    const { server, tool, arguments: args } = e.action;
    const environment = c.environment ? { environment: c.environment } : {};
    return {
      subject: { type: 'agent', id: IDENTITIES[c.as].actors[0], properties: { token: e.agent.token } },
      ...(c.resource
        ? {
            action: { name: tool, properties: { server } },
            resource: {
              type: c.resource.type,
              id: c.resource.id,
              properties: { ...(c.resource.classification ? { classification: c.resource.classification } : {}), ...environment },
            },
          }
        : { action: { name: 'tools/call' }, resource: { type: 'tool', id: tool, properties: { server, ...environment } } }),
      context: {
        arguments: args,
        ...('intent' in e ? { intent: e.intent } : {}),
        ...('reason' in e ? { reason: e.reason } : {}),
        risk: e.risk,
        ...('observed_at' in e ? { observed_at: e.observed_at } : {}),
        correlation: e.correlation,
      },
    };
  };

  /** Builds the session's history before the row's call. */
  const prepare = async (history: History | undefined, session: string) => {
    if (history?.calls) {
      for (let i = 0; i < history.calls.n; i++) {
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope(history.calls.call, session) });
        expect([200, 202, 403]).toContain(res.status);
      }
    }
    if (history?.injected) {
      const at = Date.now() - history.injected.agoMs;
      const members = Array.from({ length: history.injected.n }, (_, i) => [at + i, `${at + i}-h${i}`]).flat();
      await redis.zadd(`${env.redisPrefix}:session:${TENANT}:${session}:calls`, ...members);
    }
  };

  it('has at least 80 scenarios with unique names, covering every area of the house policy', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(80);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
    const servers = new Set(ROWS.map((r) => r.call.tool.split('/')[0]));
    expect([...servers].sort()).toEqual(['crm', 'data-mcp', 'hr-mcp', 'infra-mcp', 'mail-mcp', 'payments-mcp']);
    for (const verdict of ['allow', 'deny', 'allow_with_obligations']) expect(ROWS.some((r) => r.verdict === verdict)).toBe(true);
  });

  describe.each([
    ['POST /v1/authorize', 'v1'],
    ['POST /access/v1/evaluation (AuthZEN)', 'authzen'],
  ] as const)('%s', (_face, face) => {
    it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
      const session = `house-${face}-${randomUUID()}`;
      await prepare(row.before, session);
      const expected = row.obligations ?? [];
      if (face === 'v1') {
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope(row.call, session) });
        expect({ status: res.status, verdict: res.body.verdict, reasons: res.body.reasons, obligations: (res.body.obligations ?? []).map(summary) }).toEqual({
          status: STATUS[row.verdict],
          verdict: row.verdict,
          reasons: row.reasons,
          obligations: expected,
        });
        // Parked: the CIBA handle comes with the decision.
        if (row.verdict === 'allow_with_obligations') expect(res.body).toMatchObject({ auth_req_id: expect.any(String), expires_in: expect.any(Number) });
        else expect(res.body.auth_req_id).toBeUndefined();
        return;
      }
      const res = await call(api.url, 'POST', '/access/v1/evaluation', { token: gateway, body: evaluation(row.call, session) });
      expect(res.status).toBe(200);
      if (row.verdict === 'allow') {
        expect(res.body).toEqual({ decision: true });
        return;
      }
      expect(res.body.decision).toBe(false);
      expect(res.body.context.reasons).toEqual(row.reasons);
      if (row.verdict === 'deny') {
        expect(res.body.context.obligations).toBeUndefined();
        expect(res.body.context.reason_admin['403']).toContain(row.reasons[0]);
        return;
      }
      // Parked: one step-up obligation carrying the CIBA handle of the one request all approver sets belong to.
      const obligations = res.body.context.obligations;
      expect(obligations).toHaveLength(1);
      const [stepUp] = obligations;
      expect(stepUp).toMatchObject({ type: 'step-up', id: stepUp.properties.auth_req_id, properties: { acr_value: 'urn:countersign:acr:human-approval' } });
      const approvals = expected.filter((o) => !o.startsWith('sampled'));
      // Every approver set, each with its own quorum and independence (expires_in is the request's: the shortest of all).
      const withoutExpiry = (o: string) => o.replace(/ \d+s/, '');
      expect(stepUp.properties.approver_sets.map(summary)).toEqual(approvals.map(withoutExpiry));
      expect(stepUp.properties.quorum).toBe(stepUp.properties.approver_sets.reduce((n: number, a: { quorum: number }) => n + a.quorum, 0));
      const parked = await call(api.url, 'GET', `/v1/approvals/${stepUp.properties.auth_req_id}`, { token: gateway });
      expect(parked.body).toMatchObject({ status: 'pending', delegator_id: IDENTITIES[row.call.as].human, tool_call: { tool: row.call.tool.split('/')[1] } });
    });
  });
});
