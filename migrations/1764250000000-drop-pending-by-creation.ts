import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `approval_requests_pending_created` served the scheduled reconciliation's look at requests
 * parked in the last five minutes. That look is gone (the pass now looks at work due soon, by
 * `expires_at`, and new requests get their jobs through the outbox), and nothing else reads pending
 * requests by creation time; every park still paid an entry in it.
 */
export class DropPendingByCreation1764250000000 implements MigrationInterface {
  name = 'DropPendingByCreation1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS approval_requests_pending_created`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX approval_requests_pending_created ON approval_requests (created_at) WHERE status = 'pending'`);
  }
}
