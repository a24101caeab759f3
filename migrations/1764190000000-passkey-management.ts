import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Guarded passkey management: once an approver has a passkey, registering another, removing one
 * or switching "always" off needs an assertion from an existing one, over a challenge of purpose
 * `management` that binds the action and its target (the binding is kept in `bound`).
 */
export class PasskeyManagement1764190000000 implements MigrationInterface {
  name = 'PasskeyManagement1764190000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_purpose_check`);
    await q.query(
      `ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_purpose_check CHECK (purpose IN ('registration', 'decision', 'management'))`,
    );
    await q.query(`ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_management_bound CHECK (purpose <> 'management' OR bound IS NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM passkey_challenges WHERE purpose = 'management'`);
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_management_bound`);
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_purpose_check`);
    await q.query(`ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_purpose_check CHECK (purpose IN ('registration', 'decision'))`);
  }
}
