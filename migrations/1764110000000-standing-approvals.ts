import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Standing approvals (issue 15): what the policy offered on a parked call, what each approving
 * vote chose, and the approvals that stand for later calls. The lookup index covers the hot path:
 * a call that would park looks for a live standing approval of its agent and tool.
 */
export class StandingApprovals1764110000000 implements MigrationInterface {
  name = 'StandingApprovals1764110000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests ADD COLUMN standing_offer jsonb`);
    await q.query(`ALTER TABLE approval_votes ADD COLUMN standing jsonb`);
    await q.query(`
      CREATE TABLE standing_approvals (
        id text PRIMARY KEY,
        tenant_id text NOT NULL,
        approval_id text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('session', 'window')),
        agent_id text NOT NULL,
        delegator_id text NOT NULL,
        delegation_id text,
        server text NOT NULL,
        tool text NOT NULL,
        resource_id text,
        mcp_session_id text,
        pinned jsonb NOT NULL,
        granted_by jsonb NOT NULL,
        max_uses int CHECK (max_uses > 0),
        uses int NOT NULL DEFAULT 0,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz,
        revoked_by text,
        ended_reason text,
        CHECK (max_uses IS NULL OR uses <= max_uses),
        CHECK (scope <> 'session' OR mcp_session_id IS NOT NULL)
      )`);
    await q.query(`CREATE UNIQUE INDEX standing_approvals_approval ON standing_approvals (approval_id)`);
    await q.query(`CREATE INDEX standing_approvals_lookup ON standing_approvals (tenant_id, agent_id, server, tool) WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX standing_approvals_delegation ON standing_approvals (tenant_id, delegation_id) WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX standing_approvals_tenant_created ON standing_approvals (tenant_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE standing_approvals`);
    await q.query(`ALTER TABLE approval_votes DROP COLUMN standing`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN standing_offer`);
  }
}
