import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Approvers and notifications: the approver directory (people, groups, push subscriptions),
 * one delivery row per (request, round, approver, channel) with every attempt recorded, and
 * the obligation's escalation, reminder and separation-of-duties settings on the request.
 */
export class Notifications1763920000000 implements MigrationInterface {
  name = 'Notifications1763920000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approvers (
        tenant_id    text NOT NULL,
        id           text NOT NULL,
        display_name text NOT NULL,
        email        text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
      )`);
    await q.query(`
      CREATE TABLE approver_groups (
        tenant_id    text NOT NULL,
        name         text NOT NULL,
        display_name text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name)
      )`);
    await q.query(`
      CREATE TABLE approver_group_members (
        tenant_id   text NOT NULL,
        group_name  text NOT NULL,
        approver_id text NOT NULL,
        PRIMARY KEY (tenant_id, group_name, approver_id),
        FOREIGN KEY (tenant_id, group_name) REFERENCES approver_groups (tenant_id, name) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, approver_id) REFERENCES approvers (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX approver_group_members_approver ON approver_group_members (tenant_id, approver_id)`);
    await q.query(`
      CREATE TABLE push_subscriptions (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id       text NOT NULL,
        approver_id     text NOT NULL,
        endpoint        text NOT NULL UNIQUE,
        p256dh          text NOT NULL,
        auth            text NOT NULL,
        user_agent      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        last_success_at timestamptz,
        FOREIGN KEY (tenant_id, approver_id) REFERENCES approvers (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX push_subscriptions_approver ON push_subscriptions (tenant_id, approver_id)`);

    await q.query(`
      CREATE TABLE notification_deliveries (
        id          bigserial PRIMARY KEY,
        tenant_id   text NOT NULL,
        approval_id text NOT NULL REFERENCES approval_requests(id),
        round       text NOT NULL CHECK (round IN ('initial','escalation','reminder')),
        approver_id text NOT NULL,
        via_group   text,
        channel     text NOT NULL CHECK (channel IN ('email','push')),
        status      text NOT NULL CHECK (status IN ('queued','sent','failed','skipped')),
        attempts    int  NOT NULL DEFAULT 0,
        last_error  text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        sent_at     timestamptz,
        CONSTRAINT notification_deliveries_once UNIQUE (approval_id, round, approver_id, channel)
      )`);
    // What the reconciler scans: deliveries still to be made.
    await q.query(`CREATE INDEX notification_deliveries_queued ON notification_deliveries (approval_id) WHERE status = 'queued'`);
    await q.query(`
      CREATE TABLE notification_attempts (
        id          bigserial PRIMARY KEY,
        tenant_id   text NOT NULL,
        delivery_id bigint NOT NULL REFERENCES notification_deliveries(id),
        channel     text NOT NULL,
        attempt     int  NOT NULL,
        target      text NOT NULL,
        status      text NOT NULL CHECK (status IN ('sent','failed','gone','skipped')),
        error       text,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX notification_attempts_delivery ON notification_attempts (delivery_id)`);

    await q.query(`
      ALTER TABLE approval_requests
        ADD COLUMN escalate_after        int CHECK (escalate_after >= 1),
        ADD COLUMN escalate_to           jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN remind_after          int CHECK (remind_after >= 1),
        ADD COLUMN independent_approvers boolean NOT NULL DEFAULT false,
        ADD COLUMN agent_operator        text,
        ADD COLUMN notified_at           timestamptz,
        ADD COLUMN escalated_at          timestamptz,
        ADD COLUMN reminded_at           timestamptz`);
    await q.query(`CREATE UNIQUE INDEX approval_votes_link_once ON approval_votes (link_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_votes_link_once`);
    await q.query(`
      ALTER TABLE approval_requests
        DROP COLUMN escalate_after, DROP COLUMN escalate_to, DROP COLUMN remind_after,
        DROP COLUMN independent_approvers, DROP COLUMN agent_operator,
        DROP COLUMN notified_at, DROP COLUMN escalated_at, DROP COLUMN reminded_at`);
    await q.query(`DROP TABLE notification_attempts`);
    await q.query(`DROP TABLE notification_deliveries`);
    await q.query(`DROP TABLE push_subscriptions`);
    await q.query(`DROP TABLE approver_group_members`);
    await q.query(`DROP TABLE approver_groups`);
    await q.query(`DROP TABLE approvers`);
  }
}
