import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CIBA is a facade over the approval lifecycle: the client, scope and authorization_details of
 * a standard CIBA request move out of approval_requests into CIBA's own table, keyed by auth_req_id.
 */
export class CibaRequests1764130000000 implements MigrationInterface {
  name = 'CibaRequests1764130000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ciba_requests (
        auth_req_id           text PRIMARY KEY REFERENCES approval_requests (id) ON DELETE CASCADE,
        tenant_id             text NOT NULL,
        client_id             text NOT NULL,
        scope                 text NOT NULL,
        authorization_details jsonb NOT NULL
      )`);
    await q.query(`
      INSERT INTO ciba_requests (auth_req_id, tenant_id, client_id, scope, authorization_details)
      SELECT id, tenant_id, ciba_client_id, coalesce(scope, ''), coalesce(authorization_details, '[]'::jsonb)
        FROM approval_requests WHERE ciba_client_id IS NOT NULL`);
    await q.query(`ALTER TABLE approval_requests DROP COLUMN ciba_client_id, DROP COLUMN scope, DROP COLUMN authorization_details`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE approval_requests
        ADD COLUMN ciba_client_id        text,
        ADD COLUMN scope                 text,
        ADD COLUMN authorization_details jsonb`);
    await q.query(`
      UPDATE approval_requests r SET ciba_client_id = c.client_id, scope = c.scope, authorization_details = c.authorization_details
        FROM ciba_requests c WHERE c.auth_req_id = r.id`);
    await q.query(`DROP TABLE ciba_requests`);
  }
}
