import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The jti of every private_key_jwt client assertion accepted, kept until the assertion could no
 * longer be accepted anyway. In Postgres, not Redis: a Redis flush must not make a used
 * assertion usable again. The jti is stored as its SHA-256 (fixed size, and any string a JSON
 * claim can hold, NUL included, can be stored).
 */
export class UsedClientAssertions1764010000000 implements MigrationInterface {
  name = 'UsedClientAssertions1764010000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE used_client_assertions (
        tenant_id  text NOT NULL,
        client_id  text NOT NULL,
        jti_sha256 text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, client_id, jti_sha256)
      )`);
    // The purge of expired rows.
    await q.query(`CREATE INDEX used_client_assertions_expiry ON used_client_assertions (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE used_client_assertions`);
  }
}
