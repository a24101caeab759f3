import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tamper-evident audit log: each tenant's events form a hash chain (seq, prev_hash, hash),
 * sealed by the service in order; the only change the table accepts is sealing an unsealed row.
 * Signed checkpoints of each chain's head are kept (and shipped elsewhere) so that even an edit
 * that rewrites the chain after it is detected.
 */
export class AuditChain1763930000000 implements MigrationInterface {
  name = 'AuditChain1763930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE audit_events
        ADD COLUMN chain_seq bigint,
        ADD COLUMN prev_hash text,
        ADD COLUMN hash      text`);
    await q.query(`CREATE UNIQUE INDEX audit_events_chain ON audit_events (tenant_id, chain_seq)`);
    // What the sealer scans: each tenant's unsealed tail, oldest first.
    await q.query(`CREATE INDEX audit_events_unsealed ON audit_events (tenant_id, id) WHERE hash IS NULL`);
    // Filters of GET /v1/audit.
    await q.query(`CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id)`);
    await q.query(`CREATE INDEX audit_events_agent ON audit_events (tenant_id, agent_id, id) WHERE agent_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_events_delegator ON audit_events (tenant_id, delegator_id, id) WHERE delegator_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_events_mcp_session ON audit_events (tenant_id, mcp_session_id) WHERE mcp_session_id IS NOT NULL`);

    await q.query(`DROP TRIGGER audit_events_no_update_delete ON audit_events`);
    await q.query(`
      CREATE FUNCTION audit_events_seal_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
           AND (OLD.id, OLD.tenant_id, OLD.type, OLD.approval_id, OLD.actor, OLD.agent_id, OLD.delegator_id,
                OLD.mcp_session_id, OLD.a2a_interaction_id, OLD.request_id, OLD.data, OLD.occurred_at)
               IS NOT DISTINCT FROM
               (NEW.id, NEW.tenant_id, NEW.type, NEW.approval_id, NEW.actor, NEW.agent_id, NEW.delegator_id,
                NEW.mcp_session_id, NEW.a2a_interaction_id, NEW.request_id, NEW.data, NEW.occurred_at) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only (% refused; only sealing an unsealed event is allowed)', TG_OP;
      END $$`);
    await q.query(`CREATE TRIGGER audit_events_seal_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_seal_only()`);

    await q.query(`
      CREATE TABLE audit_chain_heads (
        tenant_id  text PRIMARY KEY,
        seq        bigint NOT NULL,
        hash       text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_checkpoints (
        id         bigserial PRIMARY KEY,
        tenant_id  text NOT NULL,
        seq        bigint NOT NULL,
        hash       text NOT NULL,
        jws        text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, seq)
      )`);
    await q.query(`CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_checkpoints`);
    await q.query(`DROP TABLE audit_chain_heads`);
    await q.query(`DROP TRIGGER audit_events_seal_only ON audit_events`);
    await q.query(`DROP FUNCTION audit_events_seal_only()`);
    await q.query(`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(
      `DROP INDEX audit_events_mcp_session, audit_events_delegator, audit_events_agent, audit_events_tenant_id, audit_events_unsealed, audit_events_chain`,
    );
    await q.query(`ALTER TABLE audit_events DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash`);
  }
}
