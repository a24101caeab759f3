import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scheduled reconciliation looks only at pending requests parked recently (their jobs may
 * never have been added) and at overdue ones; this index finds the recent ones without reading
 * every pending row.
 */
export class PendingByCreation1764090000000 implements MigrationInterface {
  name = 'PendingByCreation1764090000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX approval_requests_pending_created ON approval_requests (created_at) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_requests_pending_created`);
  }
}
