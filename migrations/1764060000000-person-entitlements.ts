import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A person's own entitlements: the tools (and, optionally, resources) they themselves may use,
 * as `{tools, resources?}` in the delegation patterns' syntax. Null (every row written before)
 * records none: the person is unrestricted, as before, and only their delegations bound an agent.
 */
export class PersonEntitlements1764060000000 implements MigrationInterface {
  name = 'PersonEntitlements1764060000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approvers ADD COLUMN entitlements jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approvers DROP COLUMN entitlements`);
  }
}
