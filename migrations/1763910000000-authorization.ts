import { MigrationInterface, QueryRunner } from 'typeorm';

/** The authorization engine: delegations (human → agent → sub-agent) and versioned policy sets. */
export class Authorization1763910000000 implements MigrationInterface {
  name = 'Authorization1763910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE delegations (
        id            text PRIMARY KEY,
        tenant_id     text NOT NULL,
        human_id      text NOT NULL,
        grantor_id    text NOT NULL,
        grantee_id    text NOT NULL,
        parent_id     text REFERENCES delegations(id),
        tools         jsonb NOT NULL,
        resources     jsonb,
        purpose       text,
        not_before    timestamptz,
        expires_at    timestamptz,
        revoked_at    timestamptz,
        revoked_by    text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        created_by    text NOT NULL
      )`);
    // The hot-path lookup: every hop of a chain is (tenant, human, grantor, grantee).
    await q.query(`CREATE INDEX delegations_hop ON delegations (tenant_id, human_id, grantor_id, grantee_id) WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX delegations_parent ON delegations (parent_id) WHERE parent_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE policy_sets (
        tenant_id     text NOT NULL,
        version       int  NOT NULL,
        policies      jsonb NOT NULL,
        tool_categories jsonb NOT NULL DEFAULT '{}',
        description   text,
        published_at  timestamptz NOT NULL DEFAULT now(),
        published_by  text NOT NULL,
        PRIMARY KEY (tenant_id, version)
      )`);
    // Published versions are immutable: only activation bookkeeping may change.
    await q.query(`
      CREATE FUNCTION policy_sets_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'policy_sets: published versions cannot be deleted'; END IF;
        IF NEW.policies IS DISTINCT FROM OLD.policies OR NEW.tool_categories IS DISTINCT FROM OLD.tool_categories
           OR NEW.version <> OLD.version OR NEW.tenant_id <> OLD.tenant_id THEN
          RAISE EXCEPTION 'policy_sets: published versions are immutable';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER policy_sets_immutable BEFORE UPDATE OR DELETE ON policy_sets FOR EACH ROW EXECUTE FUNCTION policy_sets_immutable()`);
    await q.query(`
      CREATE TABLE active_policy_sets (
        tenant_id    text PRIMARY KEY,
        version      int  NOT NULL,
        activated_at timestamptz NOT NULL DEFAULT now(),
        activated_by text NOT NULL,
        FOREIGN KEY (tenant_id, version) REFERENCES policy_sets (tenant_id, version)
      )`);
    // Why a request was settled when no approver decided it (e.g. delegation_revoked).
    await q.query(`ALTER TABLE approval_requests ADD COLUMN settled_reason text`);
    await q.query(`CREATE INDEX approval_requests_delegation ON approval_requests (tenant_id, (delegation->>'delegation_id')) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_requests_delegation`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN settled_reason`);
    await q.query(`DROP TABLE active_policy_sets`);
    await q.query(`DROP TABLE policy_sets`);
    await q.query(`DROP FUNCTION policy_sets_immutable()`);
    await q.query(`DROP TABLE delegations`);
  }
}
