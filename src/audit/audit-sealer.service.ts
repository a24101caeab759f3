import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CHAINED_COLUMNS, ChainedContent, eventHash, GENESIS_HASH } from './audit-chain';

/** Events sealed per transaction: large enough to amortise the round trips, small enough to keep locks short. */
const BATCH = 5000;

/**
 * Events hashed between two turns of the event loop. Sealing runs in the process that answers
 * requests (one-process mode, and the worker's own jobs): a backlog's 5,000 hashes in one loop held
 * every request up for ~100 ms.
 */
export const HASHES_PER_TURN = 100;

/**
 * Seals each tenant's new events into its hash chain, in id order. Events are written unsealed
 * (so that an append is one INSERT anywhere, even inside another statement); sealing is
 * serialised per tenant by a transaction-scoped advisory lock, so any number of workers can run
 * it. Sealing is the only UPDATE the table's trigger accepts, and only on an unsealed row.
 */
@Injectable()
export class AuditSealer {
  constructor(private readonly dataSource: DataSource) {}

  /** Seals everything unsealed now, tenant by tenant; returns how many events were sealed. */
  async sealAll(): Promise<number> {
    const tenants: { tenant_id: string }[] = await this.dataSource.query(
      // A loose index scan over the partial index: the distinct tenants with an unsealed tail.
      `WITH RECURSIVE t AS (
         (SELECT tenant_id FROM audit_events WHERE hash IS NULL ORDER BY tenant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT tenant_id FROM audit_events WHERE hash IS NULL AND tenant_id > t.tenant_id ORDER BY tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL)
       SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL`,
    );
    let sealed = 0;
    for (const { tenant_id } of tenants) {
      for (;;) {
        const n = await this.sealTenant(tenant_id);
        sealed += n;
        if (n < BATCH) break;
      }
    }
    return sealed;
  }

  /** Seals up to one batch of a tenant's unsealed events; 0 when another worker holds the tenant's chain. */
  async sealTenant(tenantId: string): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const [{ locked }] = await m.query(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7391)) AS locked`, [`audit-chain:${tenantId}`]);
      if (!locked) return 0;
      const rows: ChainedContent[] = await m.query(
        `SELECT ${CHAINED_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND hash IS NULL ORDER BY id LIMIT ${BATCH}`,
        [tenantId],
      );
      if (!rows.length) return 0;
      const [head] = await m.query(`SELECT seq::text AS seq, hash FROM audit_chain_heads WHERE tenant_id = $1`, [tenantId]);
      let seq = BigInt(head?.seq ?? 0);
      let prev: string = head?.hash ?? GENESIS_HASH;
      const ids: string[] = [];
      const seqs: string[] = [];
      const prevs: string[] = [];
      const hashes: string[] = [];
      for (const [i, row] of rows.entries()) {
        if (i > 0 && i % HASHES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
        seq++;
        const hash = eventHash(row, seq.toString(), prev);
        ids.push(row.id);
        seqs.push(seq.toString());
        prevs.push(prev);
        hashes.push(hash);
        prev = hash;
      }
      await m.query(
        `UPDATE audit_events e SET chain_seq = v.seq, prev_hash = v.prev, hash = v.hash
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS v(id, seq, prev, hash)
          WHERE e.id = v.id`,
        [ids, seqs, prevs, hashes],
      );
      await m.query(
        `INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, updated_at = now()`,
        [tenantId, seq.toString(), prev],
      );
      return rows.length;
    });
  }
}
