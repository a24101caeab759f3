import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Re-evaluation on redeem: a request parked by a policy decision remembers which one (so that
 * the redeem knows there is a decision to repeat, which a gateway cannot claim by what it puts in
 * `risk`), and the last re-evaluation's outcome is kept with the request (a denied redeem's
 * reasons outlive the response that carried them). Rows written before have neither.
 */
export class ApprovalReevaluation1764050000000 implements MigrationInterface {
  name = 'ApprovalReevaluation1764050000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests ADD COLUMN decision_id text, ADD COLUMN reevaluation jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests DROP COLUMN reevaluation, DROP COLUMN decision_id`);
  }
}
