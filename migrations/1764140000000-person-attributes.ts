import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A person's directory attributes (department, cost centre, …): string values by name, read by
 * policies as the User entity's tags (`context.user.getTag("department")`).
 */
export class PersonAttributes1764140000000 implements MigrationInterface {
  name = 'PersonAttributes1764140000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approvers ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approvers DROP COLUMN attributes`);
  }
}
