import { MigrationInterface, QueryRunner } from 'typeorm';

/** The tool catalogue: each tenant's MCP servers' tools and their input schemas, with a revision per tenant. */
export class ToolCatalogue1764030000000 implements MigrationInterface {
  name = 'ToolCatalogue1764030000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per tenant that ever had a catalogue: its revision goes up with every change, so an
    // instance that missed the change message still sees that its compiled schema is stale.
    await q.query(`
      CREATE TABLE tool_catalogues (
        tenant_id  text PRIMARY KEY,
        revision   bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL
      )`);
    await q.query(`
      CREATE TABLE catalogue_tools (
        tenant_id     text NOT NULL REFERENCES tool_catalogues (tenant_id),
        server        text NOT NULL,
        name          text NOT NULL,
        title         text,
        description   text,
        input_schema  jsonb NOT NULL,
        annotations   jsonb,
        registered_at timestamptz NOT NULL DEFAULT now(),
        registered_by text NOT NULL,
        PRIMARY KEY (tenant_id, server, name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE catalogue_tools`);
    await q.query(`DROP TABLE tool_catalogues`);
  }
}
