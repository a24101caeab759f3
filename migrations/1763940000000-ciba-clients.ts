import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * CIBA clients: the registered clients of the standard CIBA endpoints, per tenant, with their
 * delivery mode and how they authenticate. client_id is globally unique because a client's
 * credentials are what tell the token endpoint its tenant. The checks keep a row consistent
 * with its metadata (e.g. a ping client has an endpoint, a secret client has a secret hash).
 */
export class CibaClients1763940000000 implements MigrationInterface {
  name = 'CibaClients1763940000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ciba_clients (
        client_id                                text PRIMARY KEY,
        tenant_id                                text NOT NULL,
        name                                     text,
        backchannel_token_delivery_mode          text NOT NULL CHECK (backchannel_token_delivery_mode IN ('poll','ping','push')),
        backchannel_client_notification_endpoint text,
        token_endpoint_auth_method               text NOT NULL
          CHECK (token_endpoint_auth_method IN ('private_key_jwt','client_secret_basic','client_secret_post')),
        jwks                                     jsonb,
        jwks_uri                                 text,
        secret_hash                              text,
        created_at                               timestamptz NOT NULL DEFAULT now(),
        updated_at                               timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ciba_clients_endpoint_iff_notified
          CHECK ((backchannel_token_delivery_mode = 'poll') = (backchannel_client_notification_endpoint IS NULL)),
        CONSTRAINT ciba_clients_credentials_match_method CHECK (
          CASE token_endpoint_auth_method
            WHEN 'private_key_jwt' THEN (jwks IS NULL) <> (jwks_uri IS NULL) AND secret_hash IS NULL
            ELSE jwks IS NULL AND jwks_uri IS NULL AND secret_hash IS NOT NULL
          END)
      )`);
    // The admin API's keyset pages.
    await q.query(`CREATE INDEX ciba_clients_tenant ON ciba_clients (tenant_id, client_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ciba_clients`);
  }
}
