import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit chain v2 (src/audit/audit-chain.ts): each event carries the hash of its content, computed
 * by its writer, and its seal chains that hash, so sealing no longer reads every event's data back
 * and encodes it again. Events written before keep no content hash and stay v1 links; the verifier
 * reads both. Adding a nullable column rewrites no row.
 */
export class AuditContentHash1764260000000 implements MigrationInterface {
  name = 'AuditContentHash1764260000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events ADD COLUMN content_hash text`);
  }

  /** Refused once any event has a content hash: its seal could no longer be checked without the hash it chains. */
  async down(q: QueryRunner): Promise<void> {
    const [{ hashed }] = await q.query(`SELECT EXISTS (SELECT 1 FROM audit_events WHERE content_hash IS NOT NULL) AS hashed`);
    if (hashed) throw new Error('audit events with content hashes exist: dropping them would leave their seals unverifiable');
    await q.query(`ALTER TABLE audit_events DROP COLUMN content_hash`);
  }
}
