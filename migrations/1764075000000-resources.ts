import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Resource types (part of each tenant's schema, so they move the catalogue's revision) and the
 * registered resources of those types (data: changing one does not change the schema).
 */
export class Resources1764075000000 implements MigrationInterface {
  name = 'Resources1764075000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE resource_types (
        tenant_id   text NOT NULL REFERENCES tool_catalogues (tenant_id),
        name        text NOT NULL,
        attributes  jsonb NOT NULL,
        declared_at timestamptz NOT NULL DEFAULT now(),
        declared_by text NOT NULL,
        PRIMARY KEY (tenant_id, name)
      )`);
    // A type cannot be dropped from under its resources (the API refuses first, with a message).
    await q.query(`
      CREATE TABLE resources (
        tenant_id      text NOT NULL,
        id             text NOT NULL,
        type           text NOT NULL,
        classification text NOT NULL,
        environment    text NOT NULL,
        owner          text NOT NULL,
        attributes     jsonb NOT NULL,
        registered_at  timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now(),
        updated_by     text NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, type) REFERENCES resource_types (tenant_id, name)
      )`);
    await q.query(`CREATE INDEX resources_by_type ON resources (tenant_id, type, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE resources`);
    await q.query(`DROP TABLE resource_types`);
  }
}
