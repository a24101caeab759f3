import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A push subscription belongs to one approver of one tenant. The endpoint alone was unique, so a
 * subscription with an endpoint already stored (the same browser used by an approver of another
 * tenant, or an endpoint someone learned) took the stored row over: it moved to the other tenant
 * and the first approver got no more pushes. Now the same endpoint can be stored once per
 * (tenant, approver), and a subscription only ever replaces its own row.
 */
export class PushSubscriptionsPerApprover1764045000000 implements MigrationInterface {
  name = 'PushSubscriptionsPerApprover1764045000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE push_subscriptions DROP CONSTRAINT push_subscriptions_endpoint_key`);
    // Its index also serves the lookups by (tenant_id, approver_id) the old index was for.
    await q.query(`ALTER TABLE push_subscriptions ADD CONSTRAINT push_subscriptions_approver_endpoint UNIQUE (tenant_id, approver_id, endpoint)`);
    await q.query(`DROP INDEX push_subscriptions_approver`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The endpoint alone unique again: keep the newest row of each endpoint.
    await q.query(`
      DELETE FROM push_subscriptions s USING push_subscriptions newer
       WHERE s.endpoint = newer.endpoint AND (s.created_at, s.id) < (newer.created_at, newer.id)`);
    await q.query(`CREATE INDEX push_subscriptions_approver ON push_subscriptions (tenant_id, approver_id)`);
    await q.query(`ALTER TABLE push_subscriptions DROP CONSTRAINT push_subscriptions_approver_endpoint`);
    await q.query(`ALTER TABLE push_subscriptions ADD CONSTRAINT push_subscriptions_endpoint_key UNIQUE (endpoint)`);
  }
}
