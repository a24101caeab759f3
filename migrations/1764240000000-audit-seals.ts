import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit events are never written twice. Sealing used to UPDATE each event with its place in the
 * chain: a second version of every row, with an entry in each of the table's nine indexes and a
 * dead tuple for vacuum, and the sealer's index writes contended with the appends' (measured:
 * 21–25 µs of Postgres per event, against 1.8 µs for a row of a narrow table). Now an event's
 * seal is a row of its own in `audit_seals`, and the events waiting for one are listed in
 * `audit_unsealed` by a trigger on every insert, so that no writer can forget it. `audit_events`
 * refuses every UPDATE and DELETE; `audit_seals` likewise.
 */
export class AuditSeals1764240000000 implements MigrationInterface {
  name = 'AuditSeals1764240000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_seals (
        tenant_id text NOT NULL,
        seq       bigint NOT NULL,
        event_id  bigint NOT NULL UNIQUE,
        prev_hash text NOT NULL,
        hash      text NOT NULL,
        PRIMARY KEY (tenant_id, seq)
      )`);
    await q.query(`
      CREATE TABLE audit_unsealed (
        tenant_id text NOT NULL,
        event_id  bigint NOT NULL,
        PRIMARY KEY (tenant_id, event_id)
      )`);
    await q.query(`INSERT INTO audit_seals (tenant_id, seq, event_id, prev_hash, hash)
      SELECT tenant_id, chain_seq, id, prev_hash, hash FROM audit_events WHERE hash IS NOT NULL`);
    await q.query(`INSERT INTO audit_unsealed (tenant_id, event_id) SELECT tenant_id, id FROM audit_events WHERE hash IS NULL`);

    await q.query(`
      CREATE FUNCTION audit_events_list_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO audit_unsealed (tenant_id, event_id) SELECT tenant_id, id FROM appended;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER audit_events_list_unsealed AFTER INSERT ON audit_events
      REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION audit_events_list_unsealed()`);

    await q.query(`DROP TRIGGER audit_events_seal_only ON audit_events`);
    await q.query(`DROP FUNCTION audit_events_seal_only()`);
    await q.query(`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
      FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(`CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()`);
    await q.query(`DROP INDEX audit_events_unsealed, audit_events_chain`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text`);
    await q.query(`DROP TRIGGER audit_events_no_update_delete ON audit_events`);
    await q.query(`DROP TRIGGER audit_events_list_unsealed ON audit_events`);
    await q.query(`DROP FUNCTION audit_events_list_unsealed()`);
    await q.query(`UPDATE audit_events e SET chain_seq = s.seq, prev_hash = s.prev_hash, hash = s.hash FROM audit_seals s WHERE s.event_id = e.id`);
    await q.query(`CREATE UNIQUE INDEX audit_events_chain ON audit_events (tenant_id, chain_seq)`);
    await q.query(`CREATE INDEX audit_events_unsealed ON audit_events (tenant_id, id) WHERE hash IS NULL`);
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
    await q.query(`DROP TABLE audit_unsealed`);
    await q.query(`DROP TABLE audit_seals`);
  }
}
