/**
 * The hash chain, in plain TypeScript (the sealer, the verifier and `npm run audit:verify` share
 * it). Each tenant's events are chained in sealing order. Two formats of link, told apart by the
 * event's `content_hash`:
 * - v2 (events written with a content hash): the writer hashes the event's content when it writes
 *   it, the RFC 8785 (JCS) canonical JSON of its columns and data (`contentHashOf`); the seal is
 *   SHA-256 over {v: 2, seq, prev, id, occurred_us, content}. Sealing reads no `data` back.
 * - v1 (events written without one, before it existed): SHA-256 over the canonical JSON of every
 *   column and the data, the sequence number and the previous hash.
 * The verifier recomputes both hashes from the stored columns, never trusting the stored content
 * hash, and the encodings are computed here, never by the database, so a database superuser
 * cannot redefine them.
 */
import { hash } from 'node:crypto';
import { canonicalJson, fixedShapeEncoder } from '../common/canonical-json';

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
  /** The writer's hash of the content (v2); null or absent for an event written before content hashes (v1). */
  content_hash?: string | null;
}

/** What the writer of an event knows of it: every column but the id and the time, which the database assigns. */
export type EventContent = Omit<ChainedContent, 'id' | 'occurred_us' | 'content_hash' | 'data'>;

/** The SELECT list that reads a v1 event's ChainedContent (timestamps as integer microseconds: exact, no time zone). */
export const CHAINED_COLUMNS = `id::text AS id, tenant_id, type, approval_id, actor, agent_id, delegator_id, mcp_session_id,
  a2a_interaction_id, request_id, data, (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us`;

/**
 * What the sealer reads of an event: its id, time and content hash, which are all a v2 seal needs;
 * and for a v1 event (no content hash) the rest of its content as `v1`.
 */
export const SEALING_COLUMNS = `id::text AS id, (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us, content_hash,
  CASE WHEN content_hash IS NULL THEN json_build_object('tenant_id', tenant_id, 'type', type, 'approval_id', approval_id, 'actor', actor,
    'agent_id', agent_id, 'delegator_id', delegator_id, 'mcp_session_id', mcp_session_id, 'a2a_interaction_id', a2a_interaction_id,
    'request_id', request_id, 'data', data) END AS v1`;

/** A row of SEALING_COLUMNS. */
export interface SealingRow {
  id: string;
  occurred_us: string;
  content_hash: string | null;
  v1: Omit<ChainedContent, 'id' | 'occurred_us' | 'content_hash'> | null;
}

/** What a v2 seal is computed from: the event's id, time and content hash. */
export interface HashedLink {
  id: string;
  occurred_us: string;
  content_hash: string;
}

/** What a seal is computed from: the v2 event's hashed link, or the v1 event whole. */
export function sealedContent(row: SealingRow): ChainedContent | HashedLink {
  if (row.v1) return { ...row.v1, id: row.id, occurred_us: row.occurred_us };
  return { id: row.id, occurred_us: row.occurred_us, content_hash: row.content_hash! };
}

/**
 * Every sealed event with its seal (chain_seq, prev_hash, hash), for a `WHERE s.tenant_id = …` and
 * an `ORDER BY s.seq`: the seals side by side with the events' content, as the verifier reads them.
 * A seal that names another tenant's event finds none (the chain shows a gap there), so no
 * tenant's chain ever reads another's events.
 */
export const SEALED_EVENTS = `SELECT e.*, s.seq::text AS chain_seq, s.prev_hash, s.hash FROM audit_seals s
  CROSS JOIN LATERAL (SELECT ${CHAINED_COLUMNS}, content_hash FROM audit_events WHERE audit_events.id = s.event_id AND audit_events.tenant_id = s.tenant_id) e`;

/** The event's own fields, as both formats encode them: the keys and values of every existing hash. */
const CONTENT_FIELDS = {
  tenant: (e: EventContent) => e.tenant_id,
  type: (e: EventContent) => e.type,
  approval_id: (e: EventContent) => e.approval_id,
  actor: (e: EventContent) => e.actor,
  agent_id: (e: EventContent) => e.agent_id,
  delegator_id: (e: EventContent) => e.delegator_id,
  mcp_session_id: (e: EventContent) => e.mcp_session_id,
  a2a_interaction_id: (e: EventContent) => e.a2a_interaction_id,
  request_id: (e: EventContent) => e.request_id,
};

/**
 * The v1 hashed record: fixed fields around the free-form `data`. Changing a key or a value here
 * (or in CONTENT_FIELDS) changes every v1 hash, and breaks every existing chain.
 */
const encodeEvent = fixedShapeEncoder<[e: ChainedContent, seq: string, prevHash: string]>({
  v: () => 1,
  seq: (_e, seq) => seq,
  prev: (_e, _seq, prevHash) => prevHash,
  id: (e) => e.id,
  ...CONTENT_FIELDS,
  data: (e) => e.data,
  occurred_us: (e) => e.occurred_us,
});

/** The v2 content's fixed fields (the data goes beside them, already canonical). */
const encodeContentFields = fixedShapeEncoder<[e: EventContent]>(CONTENT_FIELDS);

/** The v2 seal: the event's place, its database-assigned id and time, and its content by hash. */
const encodeSeal = fixedShapeEncoder<[e: HashedLink, seq: string, prevHash: string]>({
  v: () => 2,
  seq: (_e, seq) => seq,
  prev: (_e, _seq, prevHash) => prevHash,
  id: (e) => e.id,
  occurred_us: (e) => e.occurred_us,
  content: (e) => e.content_hash,
});

/**
 * The v2 content hash: SHA-256 over the canonical JSON of {v: 2, data, event: the fixed fields}.
 * `canonicalData` is the data's canonical JSON, which the writer also stores, so it is encoded once.
 */
export function contentHashOf(e: EventContent, canonicalData: string): string {
  // JCS orders the keys data, event, v.
  return hash('sha256', `{"data":${canonicalData},"event":${encodeContentFields(e)},"v":2}`, 'hex');
}

/** The canonical JSON (RFC 8785) that an event's link hash is taken over: v2 when it has a content hash, v1 otherwise. */
export function eventCanonical(e: ChainedContent | HashedLink, seq: string, prevHash: string): string {
  // Without a content hash it can only be a whole (v1) event.
  return e.content_hash ? encodeSeal(e as HashedLink, seq, prevHash) : encodeEvent(e as ChainedContent, seq, prevHash);
}

export function eventHash(e: ChainedContent | HashedLink, seq: string, prevHash: string): string {
  return hash('sha256', eventCanonical(e, seq, prevHash), 'hex');
}

/** The v2 content hash of a stored event, recomputed from its columns (its data as read back). */
function storedContentHash(e: ChainedContent): string {
  return contentHashOf(e, canonicalJson(e.data));
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

/** A sealed event as the verifier reads it: its content and its place in the chain. */
export type SealedEvent = ChainedContent & { chain_seq: string; prev_hash: string; hash: string };

export interface WalkResult {
  verified: number;
  head: Checkpoint | null;
  break: ChainBreak | null;
}

/**
 * Walks one tenant's sealed events in chain order and reports the first broken link: a row whose
 * content does not hash to its stored hash (an edit), whose prev_hash is not the previous row's
 * hash, a missing sequence number (a deleted row), or a checkpoint the chain does not reach or
 * disagrees with (a rewritten or truncated chain). The next page is read while this one is
 * hashed, so the database and the hashing overlap.
 */
export async function walkChain(pages: AsyncIterable<SealedEvent[]>, checkpoints: Checkpoint[] = []): Promise<WalkResult> {
  const links = new ChainLinks(checkpoints);
  for await (const page of readAhead(pages)) {
    for (const row of page) {
      const broken = links.check(row);
      if (broken) return links.result(broken);
    }
  }
  return links.result(links.uncoveredCheckpoint());
}

/** The pages of `source`, with the next one always requested before the current one is handed out. */
async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  try {
    let pending = it.next();
    for (;;) {
      const current = await pending;
      if (current.done) return;
      pending = it.next();
      pending.catch(() => undefined); // the consumer may stop before it is awaited
      yield current.value;
    }
  } finally {
    await it.return?.(); // closes the source (its cursor) when the walk stops early
  }
}

/** The state of a walk: what the next row must say to link to the rows before it. */
class ChainLinks {
  private readonly bySeq: Map<string, Checkpoint>;
  private expectedSeq = 1n;
  private prev = GENESIS_HASH;
  private verified = 0;
  private last: SealedEvent | null = null;

  constructor(private readonly checkpoints: Checkpoint[]) {
    this.bySeq = new Map(checkpoints.map((c) => [c.seq, c]));
  }

  /** The row's first broken link, or null when it extends the chain (and the chain moves on to it). */
  check(row: SealedEvent): ChainBreak | null {
    const seq = BigInt(row.chain_seq);
    if (seq !== this.expectedSeq) {
      return brokenAt(row, 'sequence_gap', `expected seq ${this.expectedSeq}, found ${seq}: ${seq - this.expectedSeq} event(s) missing before event ${row.id}`);
    }
    if (row.prev_hash !== this.prev) {
      return brokenAt(row, 'prev_hash_mismatch', `prev_hash is ${row.prev_hash}, but the previous event's hash is ${this.prev}`);
    }
    if (row.content_hash) {
      const content = storedContentHash(row);
      if (content !== row.content_hash) {
        return brokenAt(
          row,
          'hash_mismatch',
          `stored content hash ${row.content_hash}, but the content hashes to ${content}: the event was changed after it was written`,
        );
      }
    }
    const computed = eventHash(row, row.chain_seq, this.prev);
    if (computed !== row.hash) {
      return brokenAt(row, 'hash_mismatch', `stored hash ${row.hash}, but the content hashes to ${computed}: the event was changed after sealing`);
    }
    const checkpoint = this.bySeq.get(row.chain_seq);
    if (checkpoint && checkpoint.hash !== row.hash) {
      return brokenAt(
        row,
        'checkpoint_mismatch',
        `the signed checkpoint at seq ${row.chain_seq} says ${checkpoint.hash}, the chain says ${row.hash}: the chain was rewritten`,
      );
    }
    this.prev = row.hash;
    this.expectedSeq++;
    this.verified++;
    this.last = row;
    return null;
  }

  /** At the end of the chain: the first signed checkpoint beyond it, if any (events were removed). */
  uncoveredCheckpoint(): ChainBreak | null {
    const beyond = this.checkpoints.filter((c) => BigInt(c.seq) >= this.expectedSeq).sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1))[0];
    if (!beyond) return null;
    return {
      seq: beyond.seq,
      id: null,
      problem: 'chain_shorter_than_checkpoint',
      detail: `the chain ends at seq ${this.expectedSeq - 1n}, but a signed checkpoint covers seq ${beyond.seq}: events were removed`,
    };
  }

  result(broken: ChainBreak | null): WalkResult {
    const head = this.last && { tenant: this.last.tenant_id, seq: this.last.chain_seq, hash: this.last.hash };
    return { verified: this.verified, head, break: broken };
  }
}

function brokenAt(row: SealedEvent, problem: ChainBreak['problem'], detail: string): ChainBreak {
  return { seq: row.chain_seq, id: row.id, problem, detail };
}
