import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Standard OpenID CIBA over the same lifecycle: a request made at the backchannel
 * authentication endpoint remembers the registered client that made it, the scope it asked
 * for and the RFC 9396 authorization_details that the access token will carry.
 */
export class OpenIdCiba1763950000000 implements MigrationInterface {
  name = 'OpenIdCiba1763950000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE approval_requests
        ADD COLUMN ciba_client_id        text,
        ADD COLUMN scope                 text,
        ADD COLUMN authorization_details jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval_requests DROP COLUMN ciba_client_id, DROP COLUMN scope, DROP COLUMN authorization_details`);
  }
}
