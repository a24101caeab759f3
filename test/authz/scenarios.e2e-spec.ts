/**
 * The authorization engine end to end: real Postgres, Redis and HTTP, the starter policy set
 * (DESIGN.md's examples from the field), one table row per scenario. Every row grants its own
 * delegations to its own agents and human (ids prefixed per row), so rows never share a cached
 * hop or a session counter.
 */
import { addApprovers } from '../support/directory';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken, prepareTestKeys, TEST_AGENT_ISSUER } from '../support/keys';

const TENANT = 'acme';

interface Grant {
  agent: string;
  tools: string[];
  /** Defaults to the row's human. */
  human?: string;
  /** Index (in the row's grants) of the parent delegation: a sub-agent's hop. */
  parent?: number;
  resources?: string[];
  not_before?: string;
  expires_at?: string;
  /** Revoke right after granting. */
  revoke?: boolean;
  /** Insert straight into the table, bypassing the API's narrowing check (a forged or legacy row). */
  viaSql?: boolean;
  tenant?: string;
}

interface AgentOpts {
  /** Current actor first; names are row-local and get the row prefix. */
  actors: string[];
  human?: string;
  trust?: string;
  tenant?: string;
  expiresIn?: string;
  issuer?: string;
  audience?: string;
  otherKey?: boolean;
  /** Claims of an upstream actor's own act claim (agent_class, trust_level), by row-local actor name. */
  actClaims?: Record<string, Record<string, unknown>>;
  /** A token built by hand (malformed, tampered, odd claims). */
  custom?: (ids: Ids) => Promise<string>;
}

interface Envelope {
  action: { server: string; tool: string; arguments?: Record<string, unknown> };
  intent?: Record<string, unknown>;
  resource?: Record<string, unknown>;
  environment?: string;
  reason?: string;
  risk?: { signals?: string[]; network?: string };
  /** mcp_session_id is row-local and gets the row prefix. */
  session?: string;
}

interface Expectation {
  status: 200 | 202 | 403;
  verdict: 'allow' | 'deny' | 'allow_with_obligations';
  reasons?: string[];
  /** Reason codes that must NOT be present. */
  absent?: string[];
  obligations?: Record<string, unknown>[];
}

interface Row {
  name: string;
  grants: Grant[];
  agent: AgentOpts;
  envelope: Envelope;
  gatewayTenant?: string;
  /** Runs before the decision, e.g. to build up a session's history. */
  before?: (ctx: RowContext) => Promise<void>;
  expect: Expectation;
}

interface Ids {
  p: string;
  human: string;
  agent: (name: string) => string;
}

interface RowContext {
  ids: Ids;
  token: string;
  authorize: (envelope: Envelope) => Promise<{ status: number; body: any }>;
}

const DAY = 24 * 3600 * 1000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

const read = (server = 'calendar', tool = 'read_calendar'): Envelope => ({
  action: { server, tool, arguments: { calendar: 'primary' } },
  intent: { text: 'check my calendar for tomorrow' },
});
const pay = (amount: unknown, extra: Partial<Envelope> = {}): Envelope => ({
  action: { server: 'payments', tool: 'transfer_funds', arguments: { amount, currency: 'EUR', iban: 'DE89370400440532013000' } },
  intent: { category: 'pay', text: 'pay the quarterly invoice' },
  resource: { id: 'acct-7', type: 'bank_account', classification: 'confidential' },
  ...extra,
});
const deleteOrder = (environment?: string, extra: Partial<Envelope> = {}): Envelope => ({
  action: { server: 'orders', tool: 'delete_order', arguments: { order_id: 'ord-1' } },
  intent: { category: 'delete', text: 'remove the duplicate order' },
  ...(environment ? { environment } : {}),
  ...extra,
});
const createEvent = (extra: Partial<Envelope> = {}): Envelope => ({
  action: { server: 'calendar', tool: 'create_event', arguments: { title: 'Sync', at: '2026-05-01T10:00:00Z' } },
  intent: { category: 'write', text: 'schedule the sync' },
  ...extra,
});
const exportCalendars = (args: Record<string, unknown>, extra: Partial<Envelope> = {}): Envelope => ({
  action: { server: 'calendar', tool: 'export_calendars', arguments: args },
  intent: { category: 'export', text: 'export the calendars' },
  ...extra,
});

let otherKey: JWK;
let trustedKey: JWK;

/** Signs arbitrary claims with the trusted agent issuer's key. */
async function signAgentClaims(
  claims: Record<string, unknown>,
  build: (j: SignJWT) => SignJWT = (j) => j,
  header: Record<string, unknown> = {},
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: trustedKey.alg!, kid: trustedKey.kid, ...header })
    .setIssuer(TEST_AGENT_ISSUER)
    .setAudience('countersign')
    .setIssuedAt()
    .setExpirationTime('10m');
  return build(jwt).sign(await importJWK(trustedKey, trustedKey.alg));
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

const ROWS: Row[] = [
  // ── DESIGN.md: the scheduling agent ───────────────────────────────────────────────
  {
    name: 'a scheduling agent granted calendar/* reads calendars and is allowed',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], trust: 'first_party' },
    envelope: read(),
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read'], obligations: [] },
  },
  {
    name: 'the same scheduling agent exporting all executive calendars to an external endpoint is denied as a bulk external export',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], trust: 'first_party' },
    envelope: exportCalendars(
      { people: 'all executives', destination: 'https://evil.example/upload' },
      { reason: 'quarterly offsite planning', intent: { category: 'export', text: 'share calendars with the planner' } },
    ),
    expect: { status: 403, verdict: 'deny', reasons: ['bulk_external_export'], absent: ['not_delegated'] },
  },
  {
    name: 'a scheduling agent creating an event (a write it was granted) is allowed',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: createEvent(),
    expect: { status: 200, verdict: 'allow', reasons: ['granted_write'] },
  },
  {
    name: 'exporting one calendar to an internal subdomain with a reason is parked for the delegator',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars({ calendar: 'primary', destination: 'https://files.acme.example/upload' }, { reason: 'backup before migration' }),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['export'], obligations: [{ type: 'human_approval', approvers: ['delegator'] }] },
  },
  {
    name: 'exporting without a stated reason is denied with reason_required',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars({ calendar: 'primary', destination: 'https://files.acme.example/upload' }),
    expect: { status: 403, verdict: 'deny', reasons: ['reason_required'] },
  },
  {
    name: 'exporting a confidential calendar to an external email address is denied even for one calendar',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars(
      { calendar: 'board', to: 'someone@evil.example' },
      { reason: 'board asked', resource: { id: 'cal-board', classification: 'confidential' } },
    ),
    expect: { status: 403, verdict: 'deny', reasons: ['bulk_external_export'] },
  },
  {
    name: 'exporting to 25 external recipients counts as bulk and is denied',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars(
      { calendar: 'primary', recipients: Array.from({ length: 25 }, (_, i) => `user${i}@partner.example`) },
      { reason: 'partner onboarding' },
    ),
    expect: { status: 403, verdict: 'deny', reasons: ['bulk_external_export'] },
  },
  {
    name: "the gateway's own external_destination and bulk signals make an innocuous-looking export a bulk external export",
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars({ calendar: 'primary' }, { reason: 'sync', risk: { signals: ['external_destination', 'bulk'] } }),
    expect: { status: 403, verdict: 'deny', reasons: ['bulk_external_export'] },
  },
  {
    name: 'a single non-sensitive calendar exported to an external host with a reason is parked, not denied',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: exportCalendars({ calendar: 'team-offsite', url: 'https://planner.partner.example/import' }, { reason: 'share the offsite plan' }),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['export'], absent: ['bulk_external_export'] },
  },

  // ── DESIGN.md: the payment agent ──────────────────────────────────────────────────
  {
    name: 'a payment agent transferring 500 is allowed below the approval threshold',
    grants: [{ agent: 'payer', tools: ['payments/transfer_funds'] }],
    agent: { actors: ['payer'] },
    envelope: pay(500),
    expect: { status: 200, verdict: 'allow', reasons: ['payment_below_threshold'] },
  },
  {
    name: 'a payment agent transferring 25000 is parked for the delegator and finance with the approval obligation',
    grants: [{ agent: 'payer', tools: ['payments/transfer_funds'] }],
    agent: { actors: ['payer'] },
    envelope: pay(25000, { reason: 'Invoice INV-2026-0042 is due today' }),
    expect: {
      status: 202,
      verdict: 'allow_with_obligations',
      reasons: ['payment_above_threshold'],
      obligations: [
        {
          type: 'human_approval',
          approvers: ['delegator', 'group:finance'],
          quorum: 1,
          expires_in: 900,
          binding_message: 'Payment at or above the approval threshold',
          reason_required: true,
        },
      ],
    },
  },
  {
    name: 'a large payment without a stated reason is denied with reason_required and nothing is parked',
    grants: [{ agent: 'payer', tools: ['payments/transfer_funds'] }],
    agent: { actors: ['payer'] },
    envelope: pay(25000),
    expect: { status: 403, verdict: 'deny', reasons: ['payment_above_threshold', 'reason_required'], obligations: [] },
  },
  {
    name: 'a payment of exactly the threshold (10000) needs approval',
    grants: [{ agent: 'payer', tools: ['payments/*'] }],
    agent: { actors: ['payer'] },
    envelope: pay(10000, { reason: 'rent' }),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['payment_above_threshold'] },
  },
  {
    name: 'an amount given as a numeric string below the threshold is allowed',
    grants: [{ agent: 'payer', tools: ['payments/*'] }],
    agent: { actors: ['payer'] },
    envelope: pay('499.99'),
    expect: { status: 200, verdict: 'allow', reasons: ['payment_below_threshold'] },
  },
  {
    name: 'a payment with no readable amount is treated as large and parked',
    grants: [{ agent: 'payer', tools: ['payments/*'] }],
    agent: { actors: ['payer'] },
    envelope: pay('a lot', { reason: 'vendor invoice' }),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['payment_above_threshold'], absent: ['payment_below_threshold'] },
  },
  {
    name: 'an agent stating a read intent but calling a payment tool is denied as an intent mismatch',
    grants: [{ agent: 'payer', tools: ['payments/*'] }],
    agent: { actors: ['payer'] },
    envelope: pay(10, { intent: { category: 'read', text: 'look up the balance' } }),
    expect: { status: 403, verdict: 'deny', reasons: ['intent_mismatch'] },
  },

  // ── DESIGN.md: agent trust and data classification ────────────────────────────────
  {
    name: 'a third-party agent reading confidential data is denied as untrusted on sensitive data',
    grants: [{ agent: 'plugin', tools: ['docs/*'] }],
    agent: { actors: ['plugin'], trust: 'third_party' },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-9', classification: 'confidential' } },
    expect: { status: 403, verdict: 'deny', reasons: ['untrusted_agent_sensitive_data'] },
  },
  {
    name: 'a first_party_certified agent reading the same confidential data is allowed, with a sampled review',
    grants: [{ agent: 'certified', tools: ['docs/*'] }],
    agent: { actors: ['certified'], trust: 'first_party_certified' },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-9', classification: 'confidential' } },
    expect: {
      status: 200,
      verdict: 'allow',
      reasons: ['granted_read', 'sensitive_read_sampled'],
      obligations: [{ type: 'sampled_review', rate: 0.1 }],
    },
  },
  {
    name: 'an agent whose token states no trust level reading restricted data is denied',
    grants: [{ agent: 'anon', tools: ['docs/*'] }],
    agent: {
      actors: ['anon'],
      custom: async (ids) => signAgentClaims({ tenant: TENANT, act: { sub: ids.agent('anon') } }, (j) => j.setSubject(ids.human)),
    },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-1', classification: 'restricted' } },
    expect: { status: 403, verdict: 'deny', reasons: ['untrusted_agent_sensitive_data'] },
  },
  {
    name: 'a certified agent reading confidential data for a third-party orchestrator upstream is denied: trust is judged over the whole chain',
    grants: [
      { agent: 'vendor-orch', tools: ['docs/*'] },
      { agent: 'reader', tools: ['docs/*'], parent: 0 },
    ],
    agent: {
      actors: ['reader', 'vendor-orch'],
      trust: 'first_party_certified',
      actClaims: { 'vendor-orch': { agent_class: 'orchestration', trust_level: 'third_party' } },
    },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-9', classification: 'confidential' } },
    expect: { status: 403, verdict: 'deny', reasons: ['untrusted_agent_sensitive_data'], absent: ['granted_read'] },
  },
  {
    name: 'an upstream actor whose act claim states no trust is not counted as third party (nested act claims rarely carry it): restricted data is read, sampled',
    grants: [
      { agent: 'anon-orch', tools: ['docs/*'] },
      { agent: 'reader', tools: ['docs/*'], parent: 0 },
    ],
    agent: { actors: ['reader', 'anon-orch'], trust: 'first_party_certified' },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-1', classification: 'restricted' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read', 'sensitive_read_sampled'], absent: ['untrusted_agent_sensitive_data'] },
  },
  {
    name: 'the same certified agent behind a first-party orchestrator reads the confidential document, with a sampled review',
    grants: [
      { agent: 'own-orch', tools: ['docs/*'] },
      { agent: 'reader', tools: ['docs/*'], parent: 0 },
    ],
    agent: {
      actors: ['reader', 'own-orch'],
      trust: 'first_party_certified',
      actClaims: { 'own-orch': { agent_class: 'orchestration', trust_level: 'first_party_certified' } },
    },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-9', classification: 'confidential' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read', 'sensitive_read_sampled'], obligations: [{ type: 'sampled_review', rate: 0.1 }] },
  },
  {
    name: 'a third-party orchestrator upstream on internal data is allowed',
    grants: [
      { agent: 'vendor-orch', tools: ['docs/*'] },
      { agent: 'reader', tools: ['docs/*'], parent: 0 },
    ],
    agent: {
      actors: ['reader', 'vendor-orch'],
      trust: 'first_party_certified',
      actClaims: { 'vendor-orch': { agent_class: 'orchestration', trust_level: 'third_party' } },
    },
    envelope: { ...read('docs', 'read_document'), resource: { id: 'doc-2', classification: 'internal' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read'], absent: ['untrusted_agent_sensitive_data'] },
  },
  {
    name: 'a third-party agent reading public data is allowed',
    grants: [{ agent: 'plugin', tools: ['docs/*'] }],
    agent: { actors: ['plugin'], trust: 'third_party' },
    envelope: { ...read('docs', 'search_docs'), intent: { category: 'search' }, resource: { classification: 'public' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read'], absent: ['untrusted_agent_sensitive_data'] },
  },

  // ── DESIGN.md: intent ─────────────────────────────────────────────────────────────
  {
    name: 'an agent whose intent is to summarize but who calls an export tool is denied as an intent mismatch',
    grants: [{ agent: 'summarizer', tools: ['calendar/*'] }],
    agent: { actors: ['summarizer'] },
    envelope: exportCalendars(
      { calendar: 'primary', destination: 'https://files.acme.example/x' },
      { reason: 'needed', intent: { text: 'summarize this week for me' } },
    ),
    expect: { status: 403, verdict: 'deny', reasons: ['intent_mismatch'] },
  },
  {
    name: 'an agent whose stated intent is to summarize but who deletes is denied as an intent mismatch',
    grants: [{ agent: 'summarizer', tools: ['orders/*'] }],
    agent: { actors: ['summarizer'] },
    envelope: deleteOrder('staging', { intent: { text: 'give me a digest of open orders' } }),
    expect: { status: 403, verdict: 'deny', reasons: ['intent_mismatch'], absent: ['delete_outside_production'] },
  },

  // ── DESIGN.md: delegation, not the user's own permissions ─────────────────────────
  {
    name: 'the user holds delete_order but the agent was granted only orders/read_order, so delete is denied as not delegated',
    grants: [
      // The human's authority over orders is real (another of their agents holds it) …
      { agent: 'ops-bot', tools: ['orders/*'] },
      // … but this agent was given only reads.
      { agent: 'reader', tools: ['orders/read_order'] },
    ],
    agent: { actors: ['reader'] },
    envelope: deleteOrder('staging'),
    expect: { status: 403, verdict: 'deny', reasons: ['not_delegated'], absent: ['no_delegation'] },
  },
  {
    name: 'the read-only agent reading an order is allowed',
    grants: [{ agent: 'reader', tools: ['orders/read_order'] }],
    agent: { actors: ['reader'] },
    envelope: { action: { server: 'orders', tool: 'read_order', arguments: { order_id: 'ord-1' } }, intent: { category: 'read' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read'] },
  },
  {
    name: "two grants to one agent add up within the hop: the second grant's tool is allowed",
    grants: [
      { agent: 'clerk', tools: ['orders/read_order'] },
      { agent: 'clerk', tools: ['orders/list_orders'] },
    ],
    agent: { actors: ['clerk'] },
    envelope: { action: { server: 'orders', tool: 'list_orders', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 200, verdict: 'allow' },
  },
  {
    name: 'a grant of "*" covers any server and tool',
    grants: [{ agent: 'butler', tools: ['*'] }],
    agent: { actors: ['butler'] },
    envelope: { action: { server: 'crm', tool: 'list_contacts', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 200, verdict: 'allow' },
  },
  {
    name: 'a tool on another server than the granted one is not delegated',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: { action: { server: 'mail', tool: 'read_calendar', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 403, verdict: 'deny', reasons: ['not_delegated'] },
  },
  {
    name: 'a delegation limited to resources acct-7* allows acct-77',
    grants: [{ agent: 'payer', tools: ['payments/*'], resources: ['acct-7*'] }],
    agent: { actors: ['payer'] },
    envelope: pay(100, { resource: { id: 'acct-77', classification: 'internal' } }),
    expect: { status: 200, verdict: 'allow' },
  },
  {
    name: 'a delegation limited to resources acct-7* does not cover acct-9',
    grants: [{ agent: 'payer', tools: ['payments/*'], resources: ['acct-7*'] }],
    agent: { actors: ['payer'] },
    envelope: pay(100, { resource: { id: 'acct-9', classification: 'internal' } }),
    expect: { status: 403, verdict: 'deny', reasons: ['not_delegated'] },
  },
  {
    name: 'an agent with no delegation at all is denied with no_delegation',
    grants: [],
    agent: { actors: ['stranger'] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation', 'not_delegated'] },
  },
  {
    name: 'a delegation from another human does not let the agent act for this human',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'], human: 'bob' }],
    agent: { actors: ['scheduler'] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },
  {
    name: 'a delegation in tenant acme does not count for the same agent in tenant globex',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], tenant: 'globex' },
    gatewayTenant: 'globex',
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },
  {
    name: 'an expired delegation is denied with delegation_expired',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'], expires_at: iso(-60_000) }],
    agent: { actors: ['scheduler'] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['delegation_expired', 'not_delegated'] },
  },
  {
    name: 'a delegation that is not valid yet is denied with delegation_not_yet_valid',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'], not_before: iso(DAY) }],
    agent: { actors: ['scheduler'] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['delegation_not_yet_valid', 'not_delegated'] },
  },
  {
    name: 'a delegation inside its validity window is honoured',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'], not_before: iso(-DAY), expires_at: iso(DAY) }],
    agent: { actors: ['scheduler'] },
    envelope: read(),
    expect: { status: 200, verdict: 'allow' },
  },
  {
    name: 'a revoked delegation is denied with delegation_revoked',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'], revoke: true }],
    agent: { actors: ['scheduler'] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['delegation_revoked', 'not_delegated'] },
  },

  // ── DESIGN.md: chains never widen ─────────────────────────────────────────────────
  {
    name: 'in the chain human→A→B→C (A orders/*, B orders/read_order) C deleting an order is denied',
    grants: [
      { agent: 'A', tools: ['orders/*'] },
      { agent: 'B', tools: ['orders/read_order'], parent: 0 },
      { agent: 'C', tools: ['orders/read_order'], parent: 1 },
    ],
    agent: { actors: ['C', 'B', 'A'] },
    envelope: deleteOrder('staging'),
    expect: { status: 403, verdict: 'deny', reasons: ['not_delegated'] },
  },
  {
    name: 'in the same chain C reading an order is allowed',
    grants: [
      { agent: 'A', tools: ['orders/*'] },
      { agent: 'B', tools: ['orders/read_order'], parent: 0 },
      { agent: 'C', tools: ['orders/read_order'], parent: 1 },
    ],
    agent: { actors: ['C', 'B', 'A'] },
    envelope: { action: { server: 'orders', tool: 'read_order', arguments: { order_id: 'ord-1' } }, intent: { category: 'read' } },
    expect: { status: 200, verdict: 'allow', reasons: ['granted_read'] },
  },
  {
    name: "even a forged wide grant B→C (orders/*) written straight to the table cannot widen the chain past B's read_order",
    grants: [
      { agent: 'A', tools: ['orders/*'] },
      { agent: 'B', tools: ['orders/read_order'], parent: 0 },
      { agent: 'C', tools: ['orders/*'], parent: 1, viaSql: true },
    ],
    agent: { actors: ['C', 'B', 'A'] },
    envelope: deleteOrder('staging'),
    expect: { status: 403, verdict: 'deny', reasons: ['not_delegated'] },
  },
  {
    name: 'a chain with a missing middle hop (human→A exists, A→B does not) is denied with no_delegation',
    grants: [
      { agent: 'A', tools: ['orders/*'] },
      { agent: 'C', tools: ['orders/read_order'], viaSql: true },
    ],
    agent: { actors: ['C', 'B', 'A'] },
    envelope: { action: { server: 'orders', tool: 'read_order', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },
  {
    name: "a sub-agent acting without its own hop, on the strength of its parent's grant alone, is denied",
    grants: [{ agent: 'A', tools: ['orders/*'] }],
    agent: { actors: ['B', 'A'] },
    envelope: { action: { server: 'orders', tool: 'read_order', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },
  {
    name: 'a sub-agent whose token omits its parent (claims a direct grant it does not have) is denied',
    grants: [
      { agent: 'A', tools: ['orders/*'] },
      { agent: 'B', tools: ['orders/read_order'], parent: 0 },
    ],
    agent: { actors: ['B'] },
    envelope: { action: { server: 'orders', tool: 'read_order', arguments: {} }, intent: { category: 'read' } },
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },

  // ── Bad agent tokens: a precise reason, never a 500 ───────────────────────────────
  {
    name: 'an expired agent token is denied with agent_token_expired',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], expiresIn: '-2m' },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_expired'] },
  },
  {
    name: 'an agent token for another audience is denied with agent_token_wrong_audience',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], audience: 'some-other-service' },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_wrong_audience'] },
  },
  {
    name: 'an agent token signed by another key under the trusted key id is denied with agent_token_bad_signature',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], otherKey: true },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_bad_signature'] },
  },
  {
    name: 'an agent token whose payload was altered after signing is denied with agent_token_bad_signature',
    grants: [{ agent: 'plugin', tools: ['docs/*'] }],
    agent: {
      actors: ['plugin'],
      custom: async (ids) => {
        const t = await agentToken({ human: ids.human, actors: [ids.agent('plugin')], trust: 'third_party' });
        const [h, p, s] = t.split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        return [h, b64({ ...claims, trust_level: 'first_party_certified' }), s].join('.');
      },
    },
    envelope: read('docs', 'read_document'),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_bad_signature'] },
  },
  {
    name: 'an unsigned (alg none) agent token is denied, not trusted',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: {
      actors: ['scheduler'],
      custom: async (ids) => {
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          iss: TEST_AGENT_ISSUER,
          aud: 'countersign',
          sub: ids.human,
          tenant: TENANT,
          act: { sub: ids.agent('scheduler') },
          iat: now,
          exp: now + 600,
        };
        return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
      },
    },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_bad_signature'] },
  },
  {
    name: 'an agent token from an untrusted issuer is denied with agent_token_untrusted_issuer',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], issuer: 'https://agents.evil.example' },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_untrusted_issuer'] },
  },
  {
    name: 'an agent token that is not a JWT is denied with agent_token_malformed',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], custom: async () => 'this-is-not-a-jwt' },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_malformed'] },
  },
  {
    name: 'an agent token of another tenant is denied with agent_token_tenant_mismatch',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], tenant: 'globex' },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_tenant_mismatch'] },
  },
  {
    name: 'an agent token with no act claim is denied with agent_token_no_actor',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: [] },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_no_actor'] },
  },
  {
    name: 'an agent token without a kid is denied with agent_token_malformed, though signed by the trusted key',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: {
      actors: ['scheduler'],
      custom: async (ids) => signAgentClaims({ tenant: TENANT, act: { sub: ids.agent('scheduler') } }, (j) => j.setSubject(ids.human), { kid: undefined }),
    },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_malformed'] },
  },
  {
    name: 'an agent token issued an hour from now (iat in the future) is denied with agent_token_invalid_claim',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: {
      actors: ['scheduler'],
      custom: async (ids) =>
        signAgentClaims({ tenant: TENANT, act: { sub: ids.agent('scheduler') } }, (j) => j.setSubject(ids.human).setIssuedAt('1h').setExpirationTime('2h')),
    },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_invalid_claim'] },
  },
  {
    name: 'an agent token whose act claim has no sub is denied with agent_token_bad_act',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: {
      actors: ['scheduler'],
      custom: async (ids) => signAgentClaims({ tenant: TENANT, act: { client_id: 'x' } }, (j) => j.setSubject(ids.human)),
    },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_bad_act'] },
  },
  {
    name: 'an agent token that is not valid yet (nbf in the future) is denied with agent_token_not_yet_valid',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: {
      actors: ['scheduler'],
      custom: async (ids) => signAgentClaims({ tenant: TENANT, act: { sub: ids.agent('scheduler') } }, (j) => j.setSubject(ids.human).setNotBefore('5m')),
    },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_not_yet_valid'] },
  },
  {
    name: 'an agent token without a subject (no originating human) is denied, not a 500',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'], custom: async (ids) => signAgentClaims({ tenant: TENANT, act: { sub: ids.agent('scheduler') } }) },
    envelope: read(),
    expect: { status: 403, verdict: 'deny', reasons: ['agent_token_invalid_claim'] },
  },

  // ── Risk signals ──────────────────────────────────────────────────────────────────
  {
    name: 'after more than 100 calls in the session window an otherwise allowed write is stepped up to approval',
    grants: [{ agent: 'busy', tools: ['calendar/*'] }],
    agent: { actors: ['busy'] },
    envelope: createEvent({ session: 'sess-busy' }),
    before: async ({ authorize }) => {
      for (let batch = 0; batch < 10; batch++) {
        const results = await Promise.all(Array.from({ length: 10 }, () => authorize({ ...read(), session: 'sess-busy' })));
        for (const r of results) expect(r.status).toBe(200);
      }
    },
    expect: {
      status: 202,
      verdict: 'allow_with_obligations',
      reasons: ['granted_write', 'high_velocity'],
      obligations: [{ type: 'human_approval', approvers: ['delegator'] }],
    },
  },
  {
    name: 'exactly 100 calls in the session (this one included) do not yet count as high velocity',
    grants: [{ agent: 'steady', tools: ['calendar/*'] }],
    agent: { actors: ['steady'] },
    envelope: createEvent({ session: 'sess-steady' }),
    before: async ({ authorize }) => {
      for (let batch = 0; batch < 9; batch++) {
        const results = await Promise.all(Array.from({ length: 11 }, () => authorize({ ...read(), session: 'sess-steady' })));
        for (const r of results) expect(r.status).toBe(200);
      }
    },
    expect: { status: 200, verdict: 'allow', absent: ['high_velocity'] },
  },
  {
    name: 'after three denials in the same MCP session an otherwise allowed write is stepped up to approval',
    grants: [{ agent: 'prober', tools: ['calendar/*'] }],
    agent: { actors: ['prober'] },
    envelope: createEvent({ session: 'sess-probe' }),
    before: async ({ authorize }) => {
      for (let i = 0; i < 3; i++) {
        const r = await authorize({ action: { server: 'hr', tool: 'read_salaries', arguments: {} }, intent: { category: 'read' }, session: 'sess-probe' });
        expect(r.body.reasons).toContain('not_delegated');
      }
    },
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['high_velocity'] },
  },
  {
    name: 'two denials in the session are not enough for a step-up',
    grants: [{ agent: 'prober', tools: ['calendar/*'] }],
    agent: { actors: ['prober'] },
    envelope: createEvent({ session: 'sess-probe2' }),
    before: async ({ authorize }) => {
      for (let i = 0; i < 2; i++) {
        const r = await authorize({ action: { server: 'hr', tool: 'read_salaries', arguments: {} }, intent: { category: 'read' }, session: 'sess-probe2' });
        expect(r.status).toBe(403);
      }
    },
    expect: { status: 200, verdict: 'allow', absent: ['high_velocity'] },
  },
  {
    name: 'denials in another session do not step up this session',
    grants: [{ agent: 'prober', tools: ['calendar/*'] }],
    agent: { actors: ['prober'] },
    envelope: createEvent({ session: 'sess-clean' }),
    before: async ({ authorize }) => {
      for (let i = 0; i < 3; i++) {
        const r = await authorize({ action: { server: 'hr', tool: 'read_salaries', arguments: {} }, intent: { category: 'read' }, session: 'sess-dirty' });
        expect(r.status).toBe(403);
      }
    },
    expect: { status: 200, verdict: 'allow', absent: ['high_velocity'] },
  },
  {
    name: 'a write from a new device is stepped up to approval',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: createEvent({ risk: { signals: ['new_device'] } }),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['granted_write', 'new_device'] },
  },
  {
    name: 'a read from a new device is still allowed without approval',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: { ...read(), risk: { signals: ['new_device'] } },
    expect: { status: 200, verdict: 'allow', absent: ['new_device'] },
  },
  {
    name: 'a new-device signal never permits a call nothing else permits',
    grants: [],
    agent: { actors: ['scheduler'] },
    envelope: createEvent({ risk: { signals: ['new_device'] } }),
    expect: { status: 403, verdict: 'deny', reasons: ['no_delegation'] },
  },
  {
    name: 'a gateway malware_suspected signal denies even a granted read',
    grants: [{ agent: 'scheduler', tools: ['calendar/*'] }],
    agent: { actors: ['scheduler'] },
    envelope: { ...read(), risk: { signals: ['malware_suspected'] } },
    expect: { status: 403, verdict: 'deny', reasons: ['gateway_signal_blocked'] },
  },
  {
    name: 'a gateway credential_leak signal denies a small payment',
    grants: [{ agent: 'payer', tools: ['payments/*'] }],
    agent: { actors: ['payer'] },
    envelope: pay(5, { risk: { signals: ['credential_leak'], network: 'tor' } }),
    expect: { status: 403, verdict: 'deny', reasons: ['gateway_signal_blocked'] },
  },

  // ── Environments and admin tools ──────────────────────────────────────────────────
  {
    name: 'deleting an order in production is parked for the delegator',
    grants: [{ agent: 'ops', tools: ['orders/*'] }],
    agent: { actors: ['ops'] },
    envelope: deleteOrder('production'),
    expect: {
      status: 202,
      verdict: 'allow_with_obligations',
      reasons: ['production_delete'],
      obligations: [{ type: 'human_approval', approvers: ['delegator'], binding_message: 'Delete in production' }],
    },
  },
  {
    name: 'a delete with no stated environment counts as production and is parked',
    grants: [{ agent: 'ops', tools: ['orders/*'] }],
    agent: { actors: ['ops'] },
    envelope: deleteOrder(),
    expect: { status: 202, verdict: 'allow_with_obligations', reasons: ['production_delete'] },
  },
  {
    name: 'deleting an order in staging is allowed',
    grants: [{ agent: 'ops', tools: ['orders/*'] }],
    agent: { actors: ['ops'] },
    envelope: deleteOrder('staging'),
    expect: { status: 200, verdict: 'allow', reasons: ['delete_outside_production'] },
  },
  {
    name: 'an unknown tool counts as admin and without a reason is denied with reason_required',
    grants: [{ agent: 'ops', tools: ['infra/*'] }],
    agent: { actors: ['ops'] },
    envelope: { action: { server: 'infra', tool: 'frobnicate', arguments: {} }, intent: { category: 'other' } },
    expect: { status: 403, verdict: 'deny', reasons: ['reason_required'] },
  },
  {
    name: 'an admin tool with a reason is parked for the delegator and security with a quorum of two',
    grants: [{ agent: 'ops', tools: ['infra/*'] }],
    agent: { actors: ['ops'] },
    envelope: { action: { server: 'infra', tool: 'grant_role', arguments: { role: 'owner' } }, intent: { category: 'admin' }, reason: 'on-call rotation' },
    expect: {
      status: 202,
      verdict: 'allow_with_obligations',
      reasons: ['admin_action'],
      obligations: [{ type: 'human_approval', approvers: ['delegator', 'group:security'], quorum: 2 }],
    },
  },
];

/** DESIGN.md's "examples the engine must get right", each with the rows that pin it on the starter set. */
const DESIGN_EXAMPLES: Record<string, string[]> = {
  'a scheduling agent reads calendars; exporting all executive calendars externally is denied though it holds calendar:read': [
    'a scheduling agent granted calendar/* reads calendars and is allowed',
    'the same scheduling agent exporting all executive calendars to an external endpoint is denied as a bulk external export',
  ],
  'a payment below the threshold runs; above it the same tool needs in-session approval': [
    'a payment agent transferring 500 is allowed below the approval threshold',
    'a payment agent transferring 25000 is parked for the delegator and finance with the approval obligation',
    'a payment of exactly the threshold (10000) needs approval',
  ],
  "the delegating user's access revoked: the next call is denied (within a second on every instance: revocation.e2e-spec.ts)": [
    'a revoked delegation is denied with delegation_revoked',
  ],
  'a third-party agent is denied on confidential data a certified first-party agent may read': [
    'a third-party agent reading confidential data is denied as untrusted on sensitive data',
    'a first_party_certified agent reading the same confidential data is allowed, with a sampled review',
    'a certified agent reading confidential data for a third-party orchestrator upstream is denied: trust is judged over the whole chain',
  ],
  'an action that does not match the stated intent is denied or stepped up': [
    'an agent whose intent is to summarize but who calls an export tool is denied as an intent mismatch',
    'an agent stating a read intent but calling a payment tool is denied as an intent mismatch',
  ],
  'the user holds delete_order but the agent was never granted it: denied (the intersection)': [
    'the user holds delete_order but the agent was granted only orders/read_order, so delete is denied as not delegated',
  ],
  'every hop narrows; a sub-agent never gets more than its parent; the originating human never changes': [
    'in the chain human→A→B→C (A orders/*, B orders/read_order) C deleting an order is denied',
    "even a forged wide grant B→C (orders/*) written straight to the table cannot widen the chain past B's read_order",
    'a delegation from another human does not let the agent act for this human',
  ],
};

describe('POST /v1/authorize scenarios (starter policy set)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let admin: string;
  const gateways = new Map<string, string>();

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    admin = await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:delegations countersign:admin' });
    for (const t of [TENANT, 'globex']) gateways.set(t, await gatewayToken({ tenant: t, sub: 'gateway-1' }));
    const paths = await prepareTestKeys();
    trustedKey = JSON.parse(readFileSync(paths.gatewayPrivateKeyFile, 'utf8')) as JWK;
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    otherKey = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: trustedKey.kid };
  });
  afterAll(() => env.teardown());

  it('has at least 40 scenarios with unique names', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
  });

  it('encodes every example from the field in DESIGN.md on the starter set, each by rows of this table (revocation across instances: revocation.e2e-spec.ts)', () => {
    const names = new Set(ROWS.map((r) => r.name));
    const missing = Object.entries(DESIGN_EXAMPLES).flatMap(([example, rows]) => rows.filter((n) => !names.has(n)).map((n) => `${example}: ${n}`));
    expect(missing).toEqual([]);
    // The revocation example is pinned across two instances by its own file, which runs on the starter set too.
    const revocation = readFileSync(join(__dirname, 'revocation.e2e-spec.ts'), 'utf8');
    expect(revocation).toContain('denies the next decisions on instance B within a second');
    expect(revocation).toContain('is rejected by the revoke');
    expect(revocation).not.toContain("'/v1/policies'");
  });

  async function grantAll(row: Row, ids: Ids): Promise<string[]> {
    const created: string[] = [];
    for (const g of row.grants) {
      const human = g.human ? `${ids.p}${g.human}` : ids.human;
      // The delegating human approves the parked calls (obligation "delegator"), so they are in the directory.
      await addApprovers(env.db.url, g.tenant ?? TENANT, [human]);
      if (g.viaSql) {
        const parent = g.parent !== undefined ? created[g.parent] : null;
        const [grantor] = parent
          ? await sql<{ grantee_id: string }>(env.db.url, `SELECT grantee_id FROM delegations WHERE id = $1`, [parent])
          : [{ grantee_id: human }];
        const id = `dlg_sql_${ids.p}${created.length}`;
        // A legacy row with no parent recorded: grantor B (from the actors) unless a parent says otherwise.
        const grantorId = parent ? grantor.grantee_id : g.agent === 'C' && row.agent.actors.includes('B') ? ids.agent('B') : human;
        await sql(
          env.db.url,
          `INSERT INTO delegations (id, tenant_id, human_id, grantor_id, grantee_id, parent_id, tools, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'test')`,
          [id, g.tenant ?? TENANT, human, grantorId, ids.agent(g.agent), parent, JSON.stringify(g.tools)],
        );
        created.push(id);
        continue;
      }
      const body: Record<string, unknown> = { human, agent: ids.agent(g.agent), tools: g.tools };
      if (g.parent !== undefined) body.parent_id = created[g.parent];
      if (g.resources) body.resources = g.resources;
      if (g.not_before) body.not_before = g.not_before;
      if (g.expires_at) body.expires_at = g.expires_at;
      const res = await call(api.url, 'POST', '/v1/delegations', { token: admin, body });
      expect(res.status).toBe(201);
      created.push(res.body.id);
      if (g.revoke) {
        const del = await call(api.url, 'DELETE', `/v1/delegations/${res.body.id}`, { token: admin });
        expect(del.status).toBe(200);
        expect(del.body.revoked).toEqual([res.body.id]);
      }
    }
    return created;
  }

  async function tokenFor(row: Row, ids: Ids): Promise<string> {
    const a = row.agent;
    if (a.custom) return a.custom(ids);
    return agentToken(
      {
        human: a.human ? `${ids.p}${a.human}` : ids.human,
        actors: a.actors.map(ids.agent),
        tenant: a.tenant,
        trust: a.trust,
        expiresIn: a.expiresIn,
        issuer: a.issuer,
        audience: a.audience,
        actClaims: a.actClaims && Object.fromEntries(Object.entries(a.actClaims).map(([name, claims]) => [ids.agent(name), claims])),
      },
      a.otherKey ? otherKey : undefined,
    );
  }

  function bodyFor(envelope: Envelope, token: string, ids: Ids): Record<string, unknown> {
    const { session, ...rest } = envelope;
    return { agent: { token }, ...rest, ...(session ? { correlation: { mcp_session_id: `${ids.p}${session}`, request_id: 'req-1' } } : {}) };
  }

  it.each(ROWS.map((row, i) => [row.name, row, i] as const))('%s', async (_name, row, i) => {
    const p = `s${i}-`;
    const ids: Ids = { p, human: `${p}alice`, agent: (n) => `spiffe://acme.example/agents/${p}${n}` };
    const grantIds = await grantAll(row, ids);
    const token = await tokenFor(row, ids);
    const gateway = gateways.get(row.gatewayTenant ?? TENANT)!;
    const authorize = async (envelope: Envelope) => {
      const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: bodyFor(envelope, token, ids) });
      return { status: res.status, body: res.body };
    };
    if (row.before) await row.before({ ids, token, authorize });

    const res = await authorize(row.envelope);
    const e = row.expect;
    expect({ status: res.status, verdict: res.body.verdict }).toEqual({ status: e.status, verdict: e.verdict });
    expect(res.body.decision_id).toMatch(/^dec_[0-9a-f-]{36}$/);
    expect(res.body.policy).toEqual({ id: `${row.gatewayTenant ?? TENANT}/policy-set`, version: 0 });
    if (e.reasons) expect(res.body.reasons).toEqual(expect.arrayContaining(e.reasons));
    for (const r of e.absent ?? []) expect(res.body.reasons).not.toContain(r);
    if (e.obligations) {
      expect(res.body.obligations).toHaveLength(e.obligations.length);
      e.obligations.forEach((o, k) => expect(res.body.obligations[k]).toMatchObject(o));
    }

    // Every decision is audited once, with the verdict and reasons the gateway saw.
    const audit = await sql<{ approval_id: string | null; agent_id: string | null; data: any }>(
      env.db.url,
      `SELECT approval_id, agent_id, data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`,
      [res.body.decision_id],
    );
    expect(audit).toHaveLength(1);
    expect(audit[0].data).toMatchObject({ verdict: e.verdict, reasons: res.body.reasons, policy_version: 0 });
    // The agent's credential is never stored, only its verified claims.
    expect(JSON.stringify(audit[0].data)).not.toContain(token);

    if (e.status === 202) {
      // A real approval request: pending, for the delegator, bound to this call and delegation.
      expect(res.body).toMatchObject({ auth_req_id: expect.any(String), expires_in: expect.any(Number), interval: 1 });
      expect(audit[0].approval_id).toBe(res.body.auth_req_id);
      const approval = await call(api.url, 'GET', `/v1/approvals/${res.body.auth_req_id}`, { token: gateway });
      expect(approval.status).toBe(200);
      expect(approval.body).toMatchObject({
        status: 'pending',
        agent_id: ids.agent(row.agent.actors[0]),
        delegator_id: ids.human,
        tool_call: { server: row.envelope.action.server, tool: row.envelope.action.tool },
      });
      expect(approval.body.obligation.approvers).toContain('delegator');
      expect(approval.body.obligation.approvers).toEqual(res.body.obligations[0].approvers);
      expect(approval.body.obligation.quorum).toBe(res.body.obligations[0].quorum);
      const [stored] = await sql<{ delegation: any }>(env.db.url, `SELECT delegation FROM approval_requests WHERE id = $1`, [res.body.auth_req_id]);
      expect(grantIds).toContain(stored.delegation.delegation_id);
      const poll = await call(api.url, 'POST', `/v1/approvals/${res.body.auth_req_id}/token`, { token: gateway });
      expect(poll.body.error).toBe('authorization_pending');
    } else {
      expect(res.body.auth_req_id).toBeUndefined();
      expect(audit[0].approval_id).toBeNull();
    }
  });

  describe('sub-agent delegations never widen', () => {
    it('a sub-agent delegation wider than its parent is refused with 400 naming tools, and nothing is stored', async () => {
      const parent = await call(api.url, 'POST', '/v1/delegations', {
        token: admin,
        body: { human: 'wide-alice', agent: 'wide-A', tools: ['orders/read_order', 'calendar/*'] },
      });
      expect(parent.status).toBe(201);
      for (const tools of [['orders/*'], ['orders/delete_order'], ['*'], ['calendar/read_calendar', 'mail/*']]) {
        const res = await call(api.url, 'POST', '/v1/delegations', {
          token: admin,
          body: { human: 'wide-alice', agent: 'wide-B', tools, parent_id: parent.body.id },
        });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(JSON.stringify(res.body)).toContain('tools');
        expect(res.body.errors ?? [{ field: res.body.field }]).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'tools' })]));
      }
      const rows = await sql(env.db.url, `SELECT id FROM delegations WHERE grantee_id = 'wide-B'`);
      expect(rows).toHaveLength(0);
      const narrower = await call(api.url, 'POST', '/v1/delegations', {
        token: admin,
        body: { human: 'wide-alice', agent: 'wide-B', tools: ['calendar/read_calendar', 'orders/read_order'], parent_id: parent.body.id },
      });
      expect(narrower.status).toBe(201);
      expect(narrower.body).toMatchObject({ grantor: 'wide-A', parent_id: parent.body.id });
    });

    const grantAs = (body: Record<string, unknown>) => call(api.url, 'POST', '/v1/delegations', { token: admin, body });
    /** A 400 invalid_request whose field list names `field`, with a message containing `says`. */
    const refusedNaming = (res: { status: number; body: any }, field: string, says: string | RegExp) => {
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      const problem = (res.body.errors as { field: string; message: string }[]).find((e) => e.field === field);
      expect(problem?.message).toMatch(says);
    };
    /** Nothing stored for this grantee: no delegation row, no audit event. */
    const nothingStoredFor = async (agent: string) => {
      expect(await sql(env.db.url, `SELECT id FROM delegations WHERE grantee_id = $1`, [agent])).toEqual([]);
      expect(await sql(env.db.url, `SELECT id FROM audit_events WHERE type = 'delegation.granted' AND agent_id = $1`, [agent])).toEqual([]);
    };

    it('a sub-agent delegation wider than its parent in resources (a wider pattern, or none at all) is refused with 400 naming resources, and nothing is stored', async () => {
      const parent = await grantAs({ human: 'wide-alice', agent: 'res-A', tools: ['calendar/*'], resources: ['calendar:alice', 'calendar:team-*'] });
      expect(parent.status).toBe(201);
      for (const resources of [['calendar:*'], ['*'], ['calendar:alice', 'calendar:bob'], ['calendar:alice*'], ['calendar:team*'], undefined]) {
        const res = await grantAs({
          human: 'wide-alice',
          agent: 'res-B',
          tools: ['calendar/read_calendar'],
          parent_id: parent.body.id,
          ...(resources ? { resources } : {}),
        });
        refusedNaming(res, 'resources', resources ? /not within the parent delegation's resources/ : /must be given.*none means any resource/);
      }
      await nothingStoredFor('res-B');
      for (const resources of [['calendar:alice'], ['calendar:team-a*', 'calendar:team-ops'], ['calendar:team-*']]) {
        const narrower = await grantAs({ human: 'wide-alice', agent: 'res-B', tools: ['calendar/read_calendar'], parent_id: parent.body.id, resources });
        expect(narrower.status).toBe(201);
        expect(narrower.body).toMatchObject({ parent_id: parent.body.id, resources });
      }
      // Under a parent with no resource limit, a child may name any resources, or none.
      const open = await grantAs({ human: 'wide-alice', agent: 'res-C', tools: ['calendar/*'] });
      expect((await grantAs({ human: 'wide-alice', agent: 'res-D', tools: ['calendar/*'], parent_id: open.body.id })).status).toBe(201);
      expect((await grantAs({ human: 'wide-alice', agent: 'res-D', tools: ['calendar/*'], parent_id: open.body.id, resources: ['*'] })).status).toBe(201);
    });

    it('a sub-agent delegation that would outlive its parent, or start before it, is refused with 400 naming the field, and nothing is stored', async () => {
      const parent = await grantAs({ human: 'wide-alice', agent: 'win-A', tools: ['orders/*'], not_before: iso(3600_000), expires_at: iso(DAY) });
      expect(parent.status).toBe(201);
      const child = (window: Record<string, string>) =>
        grantAs({ human: 'wide-alice', agent: 'win-B', tools: ['orders/read_order'], parent_id: parent.body.id, ...window });
      refusedNaming(await child({ not_before: iso(3600_000) }), 'expires_at', /must be given and no later than the parent delegation's expiry/);
      refusedNaming(await child({ not_before: iso(3600_000), expires_at: iso(2 * DAY) }), 'expires_at', /no later than the parent delegation's expiry/);
      refusedNaming(await child({ expires_at: iso(DAY / 2) }), 'not_before', /no earlier than the parent delegation's not_before/);
      refusedNaming(await child({ not_before: iso(60_000), expires_at: iso(DAY / 2) }), 'not_before', /no earlier than/);
      await nothingStoredFor('win-B');
      const within = await child({ not_before: iso(2 * 3600_000), expires_at: iso(DAY / 2) });
      expect(within.status).toBe(201);

      const expired = await grantAs({ human: 'wide-alice', agent: 'win-C', tools: ['orders/*'], expires_at: iso(-60_000) });
      expect(expired.status).toBe(201);
      refusedNaming(await grantAs({ human: 'wide-alice', agent: 'win-D', tools: ['orders/*'], parent_id: expired.body.id }), 'parent_id', /expired/);
      await nothingStoredFor('win-D');
    });

    it("a sub-agent delegation for another human than its parent's is refused with 400 naming human", async () => {
      const parent = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: 'h-alice', agent: 'h-A', tools: ['orders/*'] } });
      const res = await call(api.url, 'POST', '/v1/delegations', {
        token: admin,
        body: { human: 'h-mallory', agent: 'h-B', tools: ['orders/read_order'], parent_id: parent.body.id },
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('human');
    });

    it('a sub-agent delegation under a revoked parent is refused with 400 naming parent_id', async () => {
      const parent = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: 'r-alice', agent: 'r-A', tools: ['orders/*'] } });
      await call(api.url, 'DELETE', `/v1/delegations/${parent.body.id}`, { token: admin });
      const res = await call(api.url, 'POST', '/v1/delegations', {
        token: admin,
        body: { human: 'r-alice', agent: 'r-B', tools: ['orders/read_order'], parent_id: parent.body.id },
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('parent_id');
    });
  });
});
