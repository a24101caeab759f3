import { canonicalJson } from '../common/canonical-json';
import { ChainedContent, Checkpoint, contentHashOf, eventHash, GENESIS_HASH, SealedEvent, walkChain } from './audit-chain';

/** A sealed chain of n events, as the sealer writes it; from `v2From` on, events written with their content hash (v2). */
function sealedChain(n: number, v2From = Infinity): SealedEvent[] {
  const rows: SealedEvent[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const content: ChainedContent = {
      id: String(100 + i),
      tenant_id: 't',
      type: 'test.event',
      approval_id: null,
      actor: 'tester',
      agent_id: `agent-${i % 3}`,
      delegator_id: null,
      mcp_session_id: null,
      a2a_interaction_id: null,
      request_id: null,
      data: { i, nested: { z: 1, a: [1.5, 'é'] } },
      occurred_us: String(1_763_900_000_000_000 + i),
    };
    if (i >= v2From) content.content_hash = contentHashOf(content, canonicalJson(content.data));
    const hash = eventHash(content, String(i), prev);
    rows.push({ ...content, chain_seq: String(i), prev_hash: prev, hash });
    prev = hash;
  }
  return rows;
}

/** The rows as the database cursor hands them out, `size` at a time; `closed` says whether the walk let go of it. */
function pagesOf(rows: SealedEvent[], size = 3) {
  const source = { closed: false, pagesRead: 0 };
  async function* pages() {
    try {
      for (let i = 0; i < rows.length; i += size) {
        source.pagesRead++;
        yield rows.slice(i, i + size);
      }
    } finally {
      source.closed = true;
    }
  }
  return { pages: pages(), source };
}

describe('walkChain', () => {
  it('verifies an intact chain across pages and names its head', async () => {
    const rows = sealedChain(10);
    const { pages, source } = pagesOf(rows);
    const result = await walkChain(pages, [{ tenant: 't', seq: '6', hash: rows[5].hash }]);
    expect(result).toEqual({ verified: 10, head: { tenant: 't', seq: '10', hash: rows[9].hash }, break: null });
    expect(source.closed).toBe(true);
  });

  it('an empty chain verifies, with no head', async () => {
    expect(await walkChain(pagesOf([]).pages)).toEqual({ verified: 0, head: null, break: null });
  });

  it.each([
    ['an edited event', (rows: SealedEvent[]) => (rows[4].data = { forged: true }), { seq: '5', id: '105', problem: 'hash_mismatch' }, 4],
    [
      'an edited time',
      (rows: SealedEvent[]) => (rows[3].occurred_us = String(BigInt(rows[3].occurred_us) - 1n)),
      { seq: '4', id: '104', problem: 'hash_mismatch' },
      3,
    ],
    ['a relinked event', (rows: SealedEvent[]) => (rows[2].prev_hash = 'f'.repeat(64)), { seq: '3', id: '103', problem: 'prev_hash_mismatch' }, 2],
    ['a deleted event', (rows: SealedEvent[]) => rows.splice(5, 1), { seq: '7', id: '107', problem: 'sequence_gap' }, 5],
  ])('%s is the first break reported, with the rows before it verified', async (_name, tamper, expected, verified) => {
    const rows = sealedChain(10);
    tamper(rows);
    rows[8].data = { later: 'edit' }; // a second break further on must not be the one reported
    const { pages, source } = pagesOf(rows);
    const result = await walkChain(pages);
    expect(result.break).toMatchObject(expected);
    expect(result.verified).toBe(verified);
    expect(source.closed).toBe(true); // the cursor is released when the walk stops early
    expect(source.pagesRead).toBeLessThan(4); // and nothing is read beyond one page ahead
  });

  it('a consistent rewrite is caught by the checkpoint at or after it', async () => {
    const rows = sealedChain(8);
    const checkpoints: Checkpoint[] = [{ tenant: 't', seq: '6', hash: rows[5].hash }];
    // Event 4 is edited and every hash from there on recomputed, so the links all hold.
    const rewritten = sealedChain(8);
    rewritten[3].data = { forged: true };
    let prev = GENESIS_HASH;
    for (const r of rewritten) {
      r.prev_hash = prev;
      r.hash = eventHash(r, r.chain_seq, prev);
      prev = r.hash;
    }
    const result = await walkChain(pagesOf(rewritten).pages, checkpoints);
    expect(result.break).toMatchObject({ seq: '6', id: '106', problem: 'checkpoint_mismatch' });
  });

  it('a chain that ends before a signed checkpoint was truncated', async () => {
    const rows = sealedChain(7);
    const checkpoints: Checkpoint[] = [{ tenant: 't', seq: '7', hash: rows[6].hash }];
    const result = await walkChain(pagesOf(rows.slice(0, 5)).pages, checkpoints);
    expect(result.break).toMatchObject({ seq: '7', id: null, problem: 'chain_shorter_than_checkpoint' });
    expect(result.break?.detail).toMatch(/ends at seq 5/);
    expect(result.verified).toBe(5);
  });
});

describe('walkChain over v2 links (content hashed when written)', () => {
  it('verifies a chain that goes from v1 links to v2 ones', async () => {
    const rows = sealedChain(6, 4);
    expect(rows.map((r) => Boolean(r.content_hash))).toEqual([false, false, false, true, true, true]);
    const result = await walkChain(pagesOf(rows).pages, [{ tenant: 't', seq: '5', hash: rows[4].hash }]);
    expect(result).toEqual({ verified: 6, head: { tenant: 't', seq: '6', hash: rows[5].hash }, break: null });
  });

  it('a v2 seal does not hash the data itself: the same content hash gives the same seal', () => {
    const [row] = sealedChain(1, 1);
    expect(eventHash({ ...row, data: { other: 'data' } }, '1', GENESIS_HASH)).toBe(row.hash);
    expect(eventHash({ ...row, content_hash: 'f'.repeat(64) }, '1', GENESIS_HASH)).not.toBe(row.hash);
  });

  it.each([
    ['edited data', (r: SealedEvent) => (r.data = { forged: true }), /content hashes to .*changed after it was written/],
    ['an edited actor', (r: SealedEvent) => (r.actor = 'someone else'), /changed after it was written/],
    ['an edited time', (r: SealedEvent) => (r.occurred_us = String(BigInt(r.occurred_us) + 1n)), /but the content hashes to/],
    [
      'edited data with its content hash recomputed',
      (r: SealedEvent) => {
        r.data = { forged: true };
        r.content_hash = contentHashOf(r, canonicalJson(r.data));
      },
      /but the content hashes to/,
    ],
    ['the content hash removed (read as v1)', (r: SealedEvent) => (r.content_hash = null), /but the content hashes to/],
  ])('%s: hash_mismatch at that event', async (_name, tamper, detail) => {
    const rows = sealedChain(6, 1);
    tamper(rows[2]);
    const result = await walkChain(pagesOf(rows).pages);
    expect(result.break).toMatchObject({ seq: '3', id: '103', problem: 'hash_mismatch' });
    expect(result.break?.detail).toMatch(detail);
    expect(result.verified).toBe(2);
  });
});
