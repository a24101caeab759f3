import { MigrationInterface, QueryRunner } from 'typeorm';

/** The approval lifecycle: requests, votes, callback attempts and the append-only audit log. */
export class ApprovalLifecycle1763900000000 implements MigrationInterface {
  name = 'ApprovalLifecycle1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approval_requests (
        id                    text PRIMARY KEY,
        tenant_id             text NOT NULL,
        status                text NOT NULL CHECK (status IN ('pending','approved','denied','expired','cancelled')),
        gateway_id            text NOT NULL,
        tool_call             jsonb NOT NULL,
        call_hash             text NOT NULL,
        agent                 jsonb NOT NULL,
        agent_id              text NOT NULL,
        delegator_id          text NOT NULL,
        delegation            jsonb NOT NULL DEFAULT '{}',
        intent                jsonb NOT NULL DEFAULT '{}',
        resource              jsonb NOT NULL DEFAULT '{}',
        environment           text,
        reason                text NOT NULL,
        risk                  jsonb NOT NULL DEFAULT '{}',
        approvers             jsonb NOT NULL,
        quorum                int  NOT NULL CHECK (quorum >= 1),
        deny_threshold        int  NOT NULL CHECK (deny_threshold >= 1),
        binding_message       text,
        delivery_mode         text NOT NULL CHECK (delivery_mode IN ('poll','ping','push')),
        notification_endpoint text,
        notification_token    text,
        callback_state        text NOT NULL CHECK (callback_state IN ('none','pending','delivered','failed')),
        mcp_session_id        text,
        a2a_interaction_id    text,
        request_id            text,
        poll_interval         int  NOT NULL,
        last_polled_at        timestamptz,
        expires_at            timestamptz NOT NULL,
        created_at            timestamptz NOT NULL DEFAULT now(),
        decided_at            timestamptz,
        token_redeemed_at     timestamptz,
        token_jti             text
      )`);
    await q.query(`CREATE INDEX approval_requests_tenant_created ON approval_requests (tenant_id, created_at DESC)`);
    // What the reconciler scans at start-up: pending requests and undelivered callbacks.
    await q.query(`CREATE INDEX approval_requests_pending ON approval_requests (expires_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX approval_requests_callback_pending ON approval_requests (decided_at) WHERE callback_state = 'pending'`);

    await q.query(`
      CREATE TABLE approval_votes (
        id          bigserial PRIMARY KEY,
        tenant_id   text NOT NULL,
        approval_id text NOT NULL REFERENCES approval_requests(id),
        approver_id text NOT NULL,
        via_group   text,
        decision    text NOT NULL CHECK (decision IN ('approve','deny')),
        reason      text NOT NULL,
        link_id     text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT approval_votes_one_per_approver UNIQUE (approval_id, approver_id)
      )`);

    await q.query(`
      CREATE TABLE callback_attempts (
        id          bigserial PRIMARY KEY,
        tenant_id   text NOT NULL,
        approval_id text NOT NULL REFERENCES approval_requests(id),
        attempt     int  NOT NULL,
        mode        text NOT NULL,
        endpoint    text NOT NULL,
        status_code int,
        outcome     text NOT NULL CHECK (outcome IN ('delivered','retrying','failed','refused')),
        error       text,
        duration_ms int  NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX callback_attempts_approval ON callback_attempts (approval_id, id)`);

    await q.query(`
      CREATE TABLE audit_events (
        id                 bigserial PRIMARY KEY,
        tenant_id          text NOT NULL,
        type               text NOT NULL,
        approval_id        text,
        actor              text,
        agent_id           text,
        delegator_id       text,
        mcp_session_id     text,
        a2a_interaction_id text,
        request_id         text,
        data               jsonb NOT NULL DEFAULT '{}',
        occurred_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at)`);
    await q.query(`CREATE INDEX audit_events_approval ON audit_events (approval_id) WHERE approval_id IS NOT NULL`);
    // Append-only: the database itself refuses to change or remove history.
    await q.query(`
      CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
      END $$`);
    await q.query(`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP FUNCTION audit_events_refuse_change()`);
    await q.query(`DROP TABLE callback_attempts`);
    await q.query(`DROP TABLE approval_votes`);
    await q.query(`DROP TABLE approval_requests`);
  }
}
