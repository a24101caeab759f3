import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { eventHash, GENESIS_HASH, SEALING_COLUMNS, sealedContent, SealingRow } from './audit-chain';

/** Events sealed per transaction: large enough to amortise the round trips, small enough to keep locks short. */
const BATCH = 5000;

/**
 * Events hashed between two turns of the event loop. Sealing runs in the process that answers
 * requests (one-process mode, and the worker's own jobs): a backlog's 5,000 hashes in one loop held
 * every request up for ~100 ms. Under the harness's decision load (~300 events a pass), 100 a turn
 * still showed in the decisions' p99 (18–19 ms); 20 a turn gave 14 ms, at the same rate.
 */
export const HASHES_PER_TURN = 20;

/**
 * Seals each tenant's new events into its hash chain, in id order. An event written with its
 * content hash (v2, audit-chain.ts) is sealed from its id, time and that hash, without its data being
 * read back; an older one from its whole content (v1). Events are written unsealed
 * (so that an append is one INSERT anywhere, even inside another statement), and a trigger lists
 * each one in `audit_unsealed`; sealing is serialised per tenant by a transaction-scoped advisory
 * lock, so any number of workers can run it. A seal is a row of `audit_seals` (an event's place in
 * the chain: seq, prev_hash, hash): no event is ever written twice, and both tables refuse every
 * UPDATE and DELETE.
 */
@Injectable()
export class AuditSealer {
  constructor(private readonly dataSource: DataSource) {}

  /** Seals everything unsealed now, tenant by tenant; returns how many events were sealed. */
  async sealAll(): Promise<number> {
    const tenants: { tenant_id: string }[] = await this.dataSource.query(
      // A loose index scan over the waiting list's key: the distinct tenants with events to seal.
      `WITH RECURSIVE t AS (
         (SELECT tenant_id FROM audit_unsealed ORDER BY tenant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT tenant_id FROM audit_unsealed WHERE tenant_id > t.tenant_id ORDER BY tenant_id LIMIT 1) FROM t WHERE t.tenant_id IS NOT NULL)
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
      const rows: SealingRow[] = await m.query(
        `SELECT ${SEALING_COLUMNS} FROM audit_events
          WHERE tenant_id = $1 AND id IN (SELECT event_id FROM audit_unsealed WHERE tenant_id = $1 ORDER BY event_id LIMIT ${BATCH}) ORDER BY id`,
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
        const hash = eventHash(sealedContent(row), seq.toString(), prev);
        ids.push(row.id);
        seqs.push(seq.toString());
        prevs.push(prev);
        hashes.push(hash);
        prev = hash;
      }
      // The seals, the events' removal from the waiting list and the chain's new head: one statement.
      await m.query(
        `WITH sealed AS (
           INSERT INTO audit_seals (tenant_id, seq, event_id, prev_hash, hash)
           SELECT $1, v.seq, v.id, v.prev, v.hash FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS v(id, seq, prev, hash)),
         listed AS (DELETE FROM audit_unsealed WHERE tenant_id = $1 AND event_id = ANY($2::bigint[]))
         INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, $6, $7)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, updated_at = now()`,
        [tenantId, ids, seqs, prevs, hashes, seq.toString(), prev],
      );
      return rows.length;
    });
  }
}
