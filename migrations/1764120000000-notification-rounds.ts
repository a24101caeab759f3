import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications own their round marks: when each round of a request was queued lived in
 * approval_requests (notified_at, escalated_at, reminded_at), written by the notifications part.
 * It moves to a table of that part's own, one row per request and round.
 */
export class NotificationRounds1764120000000 implements MigrationInterface {
  name = 'NotificationRounds1764120000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notification_rounds (
        approval_id text NOT NULL REFERENCES approval_requests(id),
        round text NOT NULL CHECK (round IN ('initial', 'escalation', 'reminder')),
        tenant_id text NOT NULL,
        queued_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (approval_id, round)
      )`);
    await q.query(`
      INSERT INTO notification_rounds (approval_id, round, tenant_id, queued_at)
      SELECT id, m.round, tenant_id, m.at FROM approval_requests,
        LATERAL (VALUES ('initial', notified_at), ('escalation', escalated_at), ('reminder', reminded_at)) AS m(round, at)
      WHERE m.at IS NOT NULL`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN notified_at, DROP COLUMN escalated_at, DROP COLUMN reminded_at`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests ADD COLUMN notified_at timestamptz, ADD COLUMN escalated_at timestamptz, ADD COLUMN reminded_at timestamptz`);
    await q.query(`
      UPDATE approval_requests r SET
        notified_at = (SELECT queued_at FROM notification_rounds n WHERE n.approval_id = r.id AND n.round = 'initial'),
        escalated_at = (SELECT queued_at FROM notification_rounds n WHERE n.approval_id = r.id AND n.round = 'escalation'),
        reminded_at = (SELECT queued_at FROM notification_rounds n WHERE n.approval_id = r.id AND n.round = 'reminder')`);
    await q.query(`DROP TABLE notification_rounds`);
  }
}
