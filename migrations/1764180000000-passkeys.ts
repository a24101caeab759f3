import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Passkey-signed decisions (issue 15): approvers' WebAuthn credentials (per tenant and approver),
 * the short-lived single-use challenges of registration and of each decision, the approver's
 * "always use my passkey" choice, the proof a policy asks of a parked call (`@proof("passkey")`),
 * and the verified assertion kept with the vote.
 */
export class Passkeys1764180000000 implements MigrationInterface {
  name = 'Passkeys1764180000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE passkey_credentials (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id text NOT NULL,
        approver_id text NOT NULL,
        credential_id text NOT NULL,
        public_key text NOT NULL,
        counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
        transports jsonb NOT NULL DEFAULT '[]',
        name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX passkey_credentials_credential ON passkey_credentials (tenant_id, credential_id)`);
    await q.query(`CREATE INDEX passkey_credentials_approver ON passkey_credentials (tenant_id, approver_id)`);
    await q.query(`
      CREATE TABLE passkey_challenges (
        challenge text PRIMARY KEY,
        tenant_id text NOT NULL,
        approver_id text NOT NULL,
        purpose text NOT NULL CHECK (purpose IN ('registration', 'decision')),
        approval_id text,
        bound jsonb,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (purpose <> 'decision' OR (approval_id IS NOT NULL AND bound IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at)`);
    await q.query(`
      CREATE TABLE passkey_preferences (
        tenant_id text NOT NULL,
        approver_id text NOT NULL,
        always boolean NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, approver_id)
      )`);
    await q.query(`ALTER TABLE approval_requests ADD COLUMN proof text CHECK (proof IN ('passkey'))`);
    await q.query(`ALTER TABLE approval_votes ADD COLUMN passkey jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_votes DROP COLUMN passkey`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN proof`);
    await q.query(`DROP TABLE passkey_preferences`);
    await q.query(`DROP TABLE passkey_challenges`);
    await q.query(`DROP TABLE passkey_credentials`);
  }
}
