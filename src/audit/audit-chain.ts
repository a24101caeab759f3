/**
 * The hash chain, in plain TypeScript (the sealer, the verifier and `npm run audit:verify` share
 * it). Each tenant's events are chained in sealing order: event n's hash is SHA-256 over the
 * RFC 8785 (JCS) canonical JSON of its content, its sequence number and event n-1's hash. The
 * encoding is computed here from the stored columns, never by the database, so a database
 * superuser cannot redefine it.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export const GENESIS_HASH = '0'.repeat(64);
export const CHECKPOINT_TYP = 'countersign-audit-checkpoint+jwt';
export const CHECKPOINT_AUDIENCE = 'countersign:audit';

/** An event as the chain sees it: every stored column, the time in exact microseconds. */
export interface ChainedContent {
  id: string;
  tenant_id: string;
  type: string;
  approval_id: string | null;
  actor: string | null;
  agent_id: string | null;
  delegator_id: string | null;
  mcp_session_id: string | null;
  a2a_interaction_id: string | null;
  request_id: string | null;
  data: unknown;
  occurred_us: string;
}

/** The SELECT list that reads ChainedContent (timestamps as integer microseconds: exact, no time zone). */
export const CHAINED_COLUMNS = `id::text AS id, tenant_id, type, approval_id, actor, agent_id, delegator_id, mcp_session_id,
  a2a_interaction_id, request_id, data, (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us`;

export function eventHash(e: ChainedContent, seq: string, prevHash: string): string {
  const canonical = canonicalize({
    v: 1,
    seq,
    prev: prevHash,
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
  return createHash('sha256').update(canonical!).digest('hex');
}

/** The first broken link of a chain, said exactly. */
export interface ChainBreak {
  seq: string;
  /** The row's id, when there is a row at that place. */
  id: string | null;
  problem: 'hash_mismatch' | 'prev_hash_mismatch' | 'sequence_gap' | 'checkpoint_mismatch' | 'chain_shorter_than_checkpoint' | 'checkpoint_signature';
  detail: string;
}

export interface Checkpoint {
  tenant: string;
  seq: string;
  hash: string;
}

/**
 * Walks one tenant's sealed events in chain order (pages from `next`) and reports the first
 * broken link: a row whose content does not hash to its stored hash (an edit), whose prev_hash is
 * not the previous row's hash, a missing sequence number (a deleted row), or a checkpoint the
 * chain does not reach or disagrees with (a rewritten or truncated chain).
 */
export async function walkChain(
  next: (afterSeq: string) => Promise<(ChainedContent & { chain_seq: string; prev_hash: string; hash: string })[]>,
  checkpoints: Checkpoint[] = [],
): Promise<{ verified: number; head: Checkpoint | null; break: ChainBreak | null }> {
  const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
  let expectedSeq = 1n;
  let prev = GENESIS_HASH;
  let verified = 0;
  let head: Checkpoint | null = null;
  // The next page is read while this one is hashed: the database and the hashing overlap.
  let pending = next('0');
  for (;;) {
    const page = await pending;
    if (page.length) {
      pending = next(page[page.length - 1].chain_seq);
      pending.catch(() => undefined); // a break below may return before it is awaited
    }
    for (const row of page) {
      const seq = BigInt(row.chain_seq);
      const at = { seq: row.chain_seq, id: row.id };
      if (seq !== expectedSeq) {
        return { verified, head, break: { ...at, problem: 'sequence_gap', detail: `expected seq ${expectedSeq}, found ${seq}: ${seq - expectedSeq} event(s) missing before event ${row.id}` } };
      }
      if (row.prev_hash !== prev) {
        return { verified, head, break: { ...at, problem: 'prev_hash_mismatch', detail: `prev_hash is ${row.prev_hash}, but the previous event's hash is ${prev}` } };
      }
      const computed = eventHash(row, row.chain_seq, prev);
      if (computed !== row.hash) {
        return { verified, head, break: { ...at, problem: 'hash_mismatch', detail: `stored hash ${row.hash}, but the content hashes to ${computed}: the event was changed after sealing` } };
      }
      const checkpoint = bySeq.get(row.chain_seq);
      if (checkpoint && checkpoint.hash !== row.hash) {
        return { verified, head, break: { ...at, problem: 'checkpoint_mismatch', detail: `the signed checkpoint at seq ${row.chain_seq} says ${checkpoint.hash}, the chain says ${row.hash}: the chain was rewritten` } };
      }
      prev = row.hash;
      expectedSeq++;
      verified++;
      head = { tenant: row.tenant_id, seq: row.chain_seq, hash: row.hash };
    }
    if (!page.length) break;
  }
  const beyond = checkpoints.filter((c) => BigInt(c.seq) >= expectedSeq).sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1))[0];
  if (beyond) {
    return {
      verified,
      head,
      break: { seq: beyond.seq, id: null, problem: 'chain_shorter_than_checkpoint', detail: `the chain ends at seq ${expectedSeq - 1n}, but a signed checkpoint covers seq ${beyond.seq}: events were removed` },
    };
  }
  return { verified, head, break: null };
}
