import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Graduated autonomy (issue 15): the admins' streak resets per kind of call, and an index for the
 * history of human decisions per agent class, tool and classification, read from the parked
 * calls' own facts (approval_requests.risk holds the facts a policy decision parked them on).
 */
export class GraduatedAutonomy1764171000000 implements MigrationInterface {
  name = 'GraduatedAutonomy1764171000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE autonomy_resets (
        tenant_id text NOT NULL,
        agent_class text NOT NULL,
        server text NOT NULL,
        tool text NOT NULL,
        resource_classification text NOT NULL,
        reset_at timestamptz NOT NULL DEFAULT now(),
        reset_by text NOT NULL,
        PRIMARY KEY (tenant_id, agent_class, server, tool, resource_classification)
      )`);
    await q.query(`
      CREATE INDEX approval_requests_decision_history ON approval_requests
        (tenant_id, (risk->>'agent_class'), (tool_call->>'server'), (tool_call->>'tool'), (risk->>'resource_classification'), decided_at)
        WHERE status IN ('approved', 'denied') AND decision_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX approval_requests_decision_history`);
    await q.query(`DROP TABLE autonomy_resets`);
  }
}
