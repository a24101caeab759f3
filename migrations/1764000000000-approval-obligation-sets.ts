import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Conjunctive approval obligations: a request carries one approver set per approval obligation
 * (each with its own quorum, escalation approvers and separation of duties), and each vote
 * records the sets its approver could count in when they voted. Existing requests become one set
 * (their approvers, quorum, escalation approvers and independence), existing votes count in it.
 */
export class ApprovalObligationSets1764000000000 implements MigrationInterface {
  name = 'ApprovalObligationSets1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests ADD COLUMN approver_sets jsonb`);
    await q.query(`
      UPDATE approval_requests SET approver_sets = jsonb_build_array(jsonb_build_object(
        'approvers', approvers, 'quorum', quorum, 'escalate_to', escalate_to, 'independent_approvers', independent_approvers))`);
    await q.query(`ALTER TABLE approval_requests ALTER COLUMN approver_sets SET NOT NULL`);
    await q.query(`ALTER TABLE approval_votes ADD COLUMN eligible_sets jsonb NOT NULL DEFAULT '[0]'::jsonb`);
    await q.query(`ALTER TABLE approval_votes ALTER COLUMN eligible_sets DROP DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_votes DROP COLUMN eligible_sets`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN approver_sets`);
  }
}
