import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sampled post-execution review (issue 15): the reviews of sampled calls. A flag is a risk signal
 * for the agent (`context.agent_flags`, read by the partial index on flagged rows).
 */
export class SampledReviews1764170000000 implements MigrationInterface {
  name = 'SampledReviews1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sampled_reviews (
        id text PRIMARY KEY,
        tenant_id text NOT NULL,
        decision_id text NOT NULL,
        rate double precision NOT NULL CHECK (rate > 0 AND rate <= 1),
        sample double precision NOT NULL CHECK (sample >= 0 AND sample < 1),
        reviewers jsonb NOT NULL,
        agent_id text NOT NULL,
        agent_class text NOT NULL,
        delegator_id text NOT NULL,
        server text NOT NULL,
        tool text NOT NULL,
        arguments jsonb NOT NULL,
        resource_id text,
        resource_classification text NOT NULL,
        environment text NOT NULL,
        mcp_session_id text,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'looks_right', 'flagged')),
        reason text,
        reviewed_by text,
        link_jti text,
        notified_at timestamptz,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        reviewed_at timestamptz,
        CHECK ((status = 'pending') = (reviewed_at IS NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX sampled_reviews_decision ON sampled_reviews (tenant_id, decision_id)`);
    await q.query(`CREATE INDEX sampled_reviews_agent_flags ON sampled_reviews (tenant_id, agent_id, reviewed_at) WHERE status = 'flagged'`);
    await q.query(
      `CREATE INDEX sampled_reviews_kind_flags ON sampled_reviews (tenant_id, agent_class, server, tool, resource_classification, reviewed_at) WHERE status = 'flagged'`,
    );
    await q.query(`CREATE INDEX sampled_reviews_tenant_created ON sampled_reviews (tenant_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sampled_reviews`);
  }
}
