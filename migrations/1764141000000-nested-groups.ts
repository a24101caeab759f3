import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A group can be in a group ("hr-comp" in "hr"): a member of hr-comp is in hr for policies
 * (`context.user in Group::"hr"`). One row per edge; deleting either group removes it.
 */
export class NestedGroups1764141000000 implements MigrationInterface {
  name = 'NestedGroups1764141000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approver_group_parents (
        tenant_id   text NOT NULL,
        group_name  text NOT NULL,
        parent_name text NOT NULL,
        PRIMARY KEY (tenant_id, group_name, parent_name),
        FOREIGN KEY (tenant_id, group_name) REFERENCES approver_groups (tenant_id, name) ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, parent_name) REFERENCES approver_groups (tenant_id, name) ON DELETE CASCADE,
        CHECK (group_name <> parent_name)
      )`);
    await q.query(`CREATE INDEX approver_group_parents_parent ON approver_group_parents (tenant_id, parent_name)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE approver_group_parents`);
  }
}
