import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Batch review lists an approver's pending requests from one agent (for one task or MCP session);
 * the approval page looks for them on every view. This index finds the agent's pending requests
 * without reading the tenant's.
 */
export class PendingByAgent1764160000000 implements MigrationInterface {
  name = 'PendingByAgent1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX approval_requests_pending_agent ON approval_requests (tenant_id, agent_id) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_requests_pending_agent`);
  }
}
