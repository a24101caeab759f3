import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { expectSameAsCanonicalize, json, text } from '../common/canonical-json.fixture';
import { ChainedContent, eventCanonical } from './audit-chain';

/** The record the chain hashed before the fast encoder, built as it was then: the reference. */
function referenceEventCanonical(e: ChainedContent, seq: string, prev: string): string | undefined {
  return canonicalize({
    v: 1,
    seq,
    prev,
    id: e.id,
    tenant: e.tenant_id,
    type: e.type,
    approval_id: e.approval_id,
    actor: e.actor,
    agent_id: e.agent_id,
    delegator_id: e.delegator_id,
    mcp_session_id: e.mcp_session_id,
    a2a_interaction_id: e.a2a_interaction_id,
    request_id: e.request_id,
    data: e.data,
    occurred_us: e.occurred_us,
  });
}

const nullableText = fc.option(text, { nil: null });
const row = fc.record({
  id: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String),
  tenant_id: text,
  type: text,
  approval_id: nullableText,
  actor: nullableText,
  agent_id: nullableText,
  delegator_id: nullableText,
  mcp_session_id: nullableText,
  a2a_interaction_id: nullableText,
  request_id: nullableText,
  data: json,
  occurred_us: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
});
const hash = fc.stringMatching(/^[0-9a-f]{64}$/);

const RUNS = { numRuns: 2000 };

describe('the audit chain hashes what it hashed before the fast canonical encoder', () => {
  it('for any event record, the chain hashes the same text as before', () => {
    fc.assert(
      fc.property(row, fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), hash, (e, seq, prev) =>
        expectSameAsCanonicalize(
          () => eventCanonical(e, String(seq), prev),
          () => referenceEventCanonical(e, String(seq), prev),
        ),
      ),
      RUNS,
    );
  });
});
