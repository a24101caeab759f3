import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A person's status in the directory: "active" (every row written before) or "disabled". A call
 * on behalf of a disabled human is denied whatever the policy (`human_disabled`), a delegation for
 * them is refused, their votes as an approver are refused, and the calls parked on their behalf are rejected.
 */
export class PersonStatus1764066000000 implements MigrationInterface {
  name = 'PersonStatus1764066000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE approvers ADD COLUMN status text NOT NULL DEFAULT 'active' CONSTRAINT approvers_status_check CHECK (status IN ('active', 'disabled'))`,
    );
    // Disabling a person rejects the calls parked on their behalf.
    await q.query(`CREATE INDEX approval_requests_pending_delegator ON approval_requests (tenant_id, delegator_id) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_requests_pending_delegator`);
    await q.query(`ALTER TABLE approvers DROP COLUMN status`);
  }
}
