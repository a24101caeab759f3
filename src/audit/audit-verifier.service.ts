import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CHAINED_COLUMNS, ChainBreak, ChainedContent, Checkpoint, walkChain } from './audit-chain';
import { AuditCheckpoints } from './audit-checkpoints.service';

const PAGE = 10_000;

/** Reads a tenant's sealed chain page by page, in chain order, as walkChain asks for it. */
export function chainReader(dataSource: DataSource, tenantId: string) {
  return (afterSeq: string): Promise<(ChainedContent & { chain_seq: string; prev_hash: string; hash: string })[]> =>
    dataSource.query(
      `SELECT ${CHAINED_COLUMNS}, chain_seq::text AS chain_seq, prev_hash, hash FROM audit_events
        WHERE tenant_id = $1 AND audit_events.chain_seq > $2 ORDER BY audit_events.chain_seq LIMIT ${PAGE}`,
      [tenantId, afterSeq],
    );
}

export interface VerifyReport {
  tenant: string;
  ok: boolean;
  verified: number;
  head: Checkpoint | null;
  /** Events written but not sealed yet (the sealer runs every AUDIT_SEAL_INTERVAL_MS). */
  unsealed: number;
  checkpoints_checked: number;
  first_break: ChainBreak | null;
}

/** Walks a tenant's chain from the first event and against its signed checkpoints. */
@Injectable()
export class AuditVerifier {
  constructor(
    private readonly dataSource: DataSource,
    private readonly checkpoints: AuditCheckpoints,
  ) {}

  /** `externalJws`: checkpoints kept elsewhere (e.g. the AUDIT_CHECKPOINT_FILE lines); the database's own are checked too. */
  async verify(tenantId: string, externalJws: string[] = []): Promise<VerifyReport> {
    const stored = await this.checkpoints.list(tenantId);
    const { checkpoints, bad } = await this.checkpoints.verified(tenantId, [...stored.map((c) => c.jws), ...externalJws]);
    const [{ unsealed }] = await this.dataSource.query(`SELECT count(*)::int AS unsealed FROM audit_events WHERE tenant_id = $1 AND hash IS NULL`, [tenantId]);
    if (bad) {
      return { tenant: tenantId, ok: false, verified: 0, head: null, unsealed, checkpoints_checked: checkpoints.length, first_break: { seq: '0', id: null, problem: 'checkpoint_signature', detail: bad } };
    }
    const result = await walkChain(chainReader(this.dataSource, tenantId), checkpoints);
    return { tenant: tenantId, ok: !result.break, verified: result.verified, head: result.head, unsealed, checkpoints_checked: checkpoints.length, first_break: result.break };
  }
}
