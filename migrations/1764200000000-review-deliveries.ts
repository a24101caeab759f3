import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A sampled review's notifications are deliveries like an approval's (one row per reviewer and
 * channel, each attempt recorded, each retried on its own): a delivery is for an approval request
 * (with its round) or for a review, never both.
 */
export class ReviewDeliveries1764200000000 implements MigrationInterface {
  name = 'ReviewDeliveries1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE notification_deliveries
        ALTER COLUMN approval_id DROP NOT NULL,
        ALTER COLUMN round DROP NOT NULL,
        ADD COLUMN review_id text REFERENCES sampled_reviews(id),
        ADD CONSTRAINT notification_deliveries_for_one CHECK (
          (approval_id IS NOT NULL AND round IS NOT NULL AND review_id IS NULL) OR (review_id IS NOT NULL AND approval_id IS NULL AND round IS NULL))`);
    await q.query(
      `CREATE UNIQUE INDEX notification_deliveries_review_once ON notification_deliveries (review_id, approver_id, channel) WHERE review_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM notification_attempts WHERE delivery_id IN (SELECT id FROM notification_deliveries WHERE review_id IS NOT NULL)`);
    await q.query(`DELETE FROM notification_deliveries WHERE review_id IS NOT NULL`);
    await q.query(`DROP INDEX notification_deliveries_review_once`);
    await q.query(`
      ALTER TABLE notification_deliveries
        DROP CONSTRAINT notification_deliveries_for_one,
        DROP COLUMN review_id,
        ALTER COLUMN round SET NOT NULL,
        ALTER COLUMN approval_id SET NOT NULL`);
  }
}
