import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Batch decisions signed with one passkey assertion: a challenge of purpose `batch_decision`
 * binds every decision of the batch (its binding is kept in `bound`; it names no single request).
 */
export class BatchPasskeyChallenges1764230000000 implements MigrationInterface {
  name = 'BatchPasskeyChallenges1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_purpose_check`);
    await q.query(
      `ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_purpose_check CHECK (purpose IN ('registration', 'decision', 'management', 'batch_decision'))`,
    );
    await q.query(`ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_batch_bound CHECK (purpose <> 'batch_decision' OR bound IS NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM passkey_challenges WHERE purpose = 'batch_decision'`);
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_batch_bound`);
    await q.query(`ALTER TABLE passkey_challenges DROP CONSTRAINT passkey_challenges_purpose_check`);
    await q.query(
      `ALTER TABLE passkey_challenges ADD CONSTRAINT passkey_challenges_purpose_check CHECK (purpose IN ('registration', 'decision', 'management'))`,
    );
  }
}
