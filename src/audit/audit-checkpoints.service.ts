import { Inject, Injectable, Logger } from '@nestjs/common';
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Checkpoint, CHECKPOINT_AUDIENCE, CHECKPOINT_TYP } from './audit-chain';

/** A checkpoint's JWS does not expire: it vouches for history. (JWT needs an exp; this is far enough.) */
const CHECKPOINT_VALIDITY_YEARS = 100;

export interface SignedCheckpoint extends Checkpoint {
  jws: string;
  created_at: string;
}

/**
 * Signed checkpoints of each tenant's chain head (JWS with the service key), at an interval.
 * They are stored in Postgres and, with AUDIT_CHECKPOINT_FILE, appended to a file meant to be
 * shipped off the database host (WORM storage, a SIEM): a database superuser who rewrites the
 * chain consistently still cannot match a checkpoint kept elsewhere, nor forge a new one.
 */
@Injectable()
export class AuditCheckpoints {
  private readonly logger = new Logger(AuditCheckpoints.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: SigningKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Signs the head of every chain that moved since its last checkpoint; returns the new checkpoints. */
  async checkpointAll(): Promise<SignedCheckpoint[]> {
    const heads: { tenant_id: string; seq: string; hash: string }[] = await this.dataSource.query(
      `SELECT h.tenant_id, h.seq::text AS seq, h.hash FROM audit_chain_heads h
        WHERE h.seq > coalesce((SELECT max(c.seq) FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id), 0)`,
    );
    const made: SignedCheckpoint[] = [];
    for (const h of heads) {
      const expiresAt = new Date(Date.now() + CHECKPOINT_VALIDITY_YEARS * 365 * 24 * 3600_000);
      const jws = await this.keys.sign(
        { tenant: h.tenant_id, seq: h.seq, hash: h.hash },
        { typ: CHECKPOINT_TYP, audience: CHECKPOINT_AUDIENCE, subject: h.tenant_id, expiresAt, jti: randomUUID() },
      );
      const [row] = await this.dataSource.query(
        `INSERT INTO audit_checkpoints (tenant_id, seq, hash, jws) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING created_at`,
        [h.tenant_id, h.seq, h.hash, jws],
      );
      if (!row) continue;
      const checkpoint = { tenant: h.tenant_id, seq: h.seq, hash: h.hash, jws, created_at: new Date(row.created_at).toISOString() };
      if (this.config.AUDIT_CHECKPOINT_FILE) appendFileSync(this.config.AUDIT_CHECKPOINT_FILE, `${JSON.stringify(checkpoint)}\n`);
      made.push(checkpoint);
    }
    if (made.length) this.logger.log(`signed ${made.length} audit checkpoint(s)`);
    return made;
  }

  async list(tenantId: string): Promise<SignedCheckpoint[]> {
    const rows: { seq: string; hash: string; jws: string; created_at: Date }[] = await this.dataSource.query(
      `SELECT seq::text AS seq, hash, jws, created_at FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    return rows.map((r) => ({ tenant: tenantId, seq: r.seq, hash: r.hash, jws: r.jws, created_at: r.created_at.toISOString() }));
  }

  /**
   * The checkpoints whose signature holds, as the chain must match them. A checkpoint with a bad
   * signature is returned as a problem: someone tried to plant one.
   */
  async verified(tenantId: string, jwsList: string[]): Promise<{ checkpoints: Checkpoint[]; bad: string | null }> {
    const checkpoints: Checkpoint[] = [];
    for (const jws of jwsList) {
      try {
        const { payload } = await this.keys.verify(jws, { typ: CHECKPOINT_TYP, audience: CHECKPOINT_AUDIENCE });
        if (payload.tenant !== tenantId) continue;
        checkpoints.push({ tenant: tenantId, seq: String(payload.seq), hash: String(payload.hash) });
      } catch (e) {
        return { checkpoints, bad: `a checkpoint's signature does not verify: ${(e as Error).message}` };
      }
    }
    return { checkpoints, bad: null };
  }
}
