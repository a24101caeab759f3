import { DataSource } from 'typeorm';
import { CHAINED_COLUMNS, ChainedContent, eventHash, GENESIS_HASH, walkChain } from '../../src/audit/audit-chain';
import { AuditSealer } from '../../src/audit/audit-sealer.service';
import { readSealedChain } from '../../src/audit/audit-verifier.service';
import { openTestDataSource, TestDataSource, undoMigrationsThrough } from '../support/database';

/**
 * The move of seals out of audit_events (migrations/1764240000000-audit-seals.ts): a chain sealed
 * the old way, in the old columns, still verifies afterwards, its unsealed tail is sealed onto it,
 * and going back puts every seal into the old columns again.
 */
describe('audit seals migration', () => {
  let test: TestDataSource;
  let ds: DataSource;

  beforeAll(async () => {
    test = await openTestDataSource(4);
    ds = test.ds;
  });
  afterAll(() => test.close());

  const append = (tenant: string, n: number) =>
    ds.query(
      `INSERT INTO audit_events (tenant_id, type, actor, data)
       SELECT $1, 'authz.decision', 'gateway:g', jsonb_build_object('i', g) FROM generate_series(1, $2::int) g`,
      [tenant, n],
    );

  /** What the sealer did before the migration: the chain in audit_events' own columns. */
  async function sealTheOldWay(tenant: string): Promise<void> {
    const rows: ChainedContent[] = await ds.query(`SELECT ${CHAINED_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND hash IS NULL ORDER BY id`, [tenant]);
    const [head] = await ds.query(`SELECT seq::text AS seq, hash FROM audit_chain_heads WHERE tenant_id = $1`, [tenant]);
    let seq = Number(head?.seq ?? 0);
    let prev: string = head?.hash ?? GENESIS_HASH;
    for (const row of rows) {
      seq += 1;
      const hash = eventHash(row, String(seq), prev);
      await ds.query(`UPDATE audit_events SET chain_seq = $2, prev_hash = $3, hash = $4 WHERE id = $1`, [row.id, seq, prev, hash]);
      prev = hash;
    }
    await ds.query(
      `INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`,
      [tenant, seq, prev],
    );
  }

  it('keeps an old chain, seals its unsealed tail onto it, and goes back', async () => {
    await undoMigrationsThrough(ds, 'AuditSeals1764240000000');
    expect(await ds.query(`SELECT to_regclass('audit_seals') AS t`)).toEqual([{ t: null }]);
    await append('old', 5);
    await sealTheOldWay('old');
    await append('old', 3); // written before the upgrade, sealed after it
    const oldSeals: { id: string; chain_seq: string; hash: string }[] = await ds.query(
      `SELECT id::text AS id, chain_seq::text AS chain_seq, hash FROM audit_events WHERE tenant_id = 'old' AND hash IS NOT NULL ORDER BY chain_seq`,
    );
    expect(oldSeals).toHaveLength(5);

    await ds.runMigrations();
    const moved: { id: string; chain_seq: string; hash: string }[] = await ds.query(
      `SELECT event_id::text AS id, seq::text AS chain_seq, hash FROM audit_seals WHERE tenant_id = 'old' ORDER BY seq`,
    );
    expect(moved).toEqual(oldSeals);
    expect(await ds.query(`SELECT count(*)::int AS n FROM audit_unsealed WHERE tenant_id = 'old'`)).toEqual([{ n: 3 }]);

    expect(await new AuditSealer(ds).sealAll()).toBe(3);
    const verified = await walkChain(readSealedChain(ds, 'old'));
    expect(verified).toMatchObject({ verified: 8, break: null, head: { tenant: 'old', seq: '8' } });
    expect(await ds.query(`SELECT count(*)::int AS n FROM audit_unsealed`)).toEqual([{ n: 0 }]);

    await undoMigrationsThrough(ds, 'AuditSeals1764240000000');
    const back: { chain_seq: string }[] = await ds.query(`SELECT chain_seq::text AS chain_seq FROM audit_events WHERE tenant_id = 'old' ORDER BY chain_seq`);
    expect(back.map((r) => r.chain_seq)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    await ds.runMigrations();
  });
});
