import { Injectable } from '@nestjs/common';
import { calculateJwkThumbprint } from 'jose';
import { DataSource, EntityManager } from 'typeorm';
import { CallbackEndpointPolicy } from '../../approvals/callback-endpoint.policy';
import { ClientIdTaken, InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { AuditLog } from '../../audit/audit-log.service';
import { CibaClient, SECRET_AUTH_METHODS } from './ciba-client.entity';
import { CibaClientInput, registrationProblems } from './ciba-client.commands';
import { generateClientSecret, hashClientSecret } from './client-secret';
import { VerifiedClientSecrets } from './verified-client-secrets';

/** A registration as written, and the client_secret when this write issued one (shown once). */
export interface Registered {
  client: CibaClient;
  created: boolean;
  clientSecret?: string;
}

const PAGE_MAX = 500;

/**
 * The CIBA clients of each tenant. Every change is an audit event in its own transaction; secrets
 * are generated here and only their hash is kept.
 */
@Injectable()
export class CibaClientRegistry {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly endpoints: CallbackEndpointPolicy,
    private readonly verified: VerifiedClientSecrets,
  ) {}

  /**
   * Creates or replaces a registration. A secret is issued on creation with a secret method and
   * when the method changes to one; switching between the two secret methods keeps the secret.
   */
  async put(tenantId: string, clientId: string, input: CibaClientInput, actor: string): Promise<Registered> {
    const problems = registrationProblems(input, (url) => this.endpoints.problemWith(url));
    if (problems.length) throw InvalidRequest.forFields(problems);
    const usesSecret = SECRET_AUTH_METHODS.includes(input.token_endpoint_auth_method);
    // Hashed before the transaction, so that no row lock is held while it runs.
    const fresh = usesSecret ? await newSecret() : undefined;
    const thumbprints = input.jwks ? await Promise.all(input.jwks.keys.map((k) => calculateJwkThumbprint(k))) : null;
    const columns = [
      input.client_name ?? null,
      input.backchannel_token_delivery_mode,
      input.backchannel_client_notification_endpoint ?? null,
      input.token_endpoint_auth_method,
      input.jwks ? JSON.stringify(input.jwks) : null,
      input.jwks_uri ?? null,
    ];

    // Twice at most: a second attempt follows only a concurrent creation of the same client_id.
    for (;;) {
      const done = await this.dataSource.transaction(async (m): Promise<Registered | undefined> => {
        const existing = await this.lock(m, clientId);
        if (existing && existing.tenantId !== tenantId) throw new ClientIdTaken(`client_id "${clientId}" is registered by another tenant`);
        const keep = usesSecret && existing?.secretHash ? existing.secretHash : undefined;
        const secretHash = keep ?? fresh?.hash ?? null;
        if (existing) {
          await m.query(
            `UPDATE ciba_clients SET name = $2, backchannel_token_delivery_mode = $3, backchannel_client_notification_endpoint = $4,
                    token_endpoint_auth_method = $5, jwks = $6, jwks_uri = $7, secret_hash = $8, updated_at = now()
              WHERE client_id = $1`,
            [clientId, ...columns, secretHash],
          );
        } else {
          const inserted = await m.query(
            `INSERT INTO ciba_clients (client_id, tenant_id, name, backchannel_token_delivery_mode, backchannel_client_notification_endpoint,
                                       token_endpoint_auth_method, jwks, jwks_uri, secret_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
            [clientId, tenantId, ...columns, secretHash],
          );
          if (inserted.length === 0) return undefined;
        }
        const issued = usesSecret && !keep ? fresh?.secret : undefined;
        await this.audit.append(m, {
          tenantId,
          type: existing ? 'ciba_client.updated' : 'ciba_client.registered',
          actor,
          data: {
            client_id: clientId,
            client_name: input.client_name ?? null,
            backchannel_token_delivery_mode: input.backchannel_token_delivery_mode,
            backchannel_client_notification_endpoint: input.backchannel_client_notification_endpoint ?? null,
            token_endpoint_auth_method: input.token_endpoint_auth_method,
            jwks_uri: input.jwks_uri ?? null,
            jwk_thumbprints: thumbprints,
            secret_issued: issued !== undefined,
          },
        });
        const client = await m.findOneByOrFail(CibaClient, { clientId });
        return { client, created: !existing, clientSecret: issued };
      });
      if (done) {
        this.verified.forget(clientId);
        return done;
      }
    }
  }

  /** Replaces the secret of a client that authenticates with one; the old secret stops working at once. */
  async rotateSecret(tenantId: string, clientId: string, actor: string): Promise<Registered & { clientSecret: string }> {
    const fresh = await newSecret();
    const rotated = await this.dataSource.transaction(async (m) => {
      const existing = await this.lock(m, clientId);
      if (existing?.tenantId !== tenantId) throw notFound(clientId);
      if (!existing.secretHash) {
        throw InvalidRequest.forFields([
          { field: 'token_endpoint_auth_method', message: `is ${existing.tokenEndpointAuthMethod}: the client has no secret to rotate` },
        ]);
      }
      await m.query(`UPDATE ciba_clients SET secret_hash = $2, updated_at = now() WHERE client_id = $1`, [clientId, fresh.hash]);
      await this.audit.append(m, { tenantId, type: 'ciba_client.secret_rotated', actor, data: { client_id: clientId } });
      return { client: await m.findOneByOrFail(CibaClient, { clientId }), created: false, clientSecret: fresh.secret };
    });
    this.verified.forget(clientId);
    return rotated;
  }

  async get(tenantId: string, clientId: string): Promise<CibaClient> {
    const client = await this.dataSource.manager.findOneBy(CibaClient, { tenantId, clientId });
    if (!client) throw notFound(clientId);
    return client;
  }

  async list(tenantId: string, after = '', limit = 100): Promise<CibaClient[]> {
    return this.dataSource.manager
      .createQueryBuilder(CibaClient, 'c')
      .where('c.tenantId = :tenantId AND c.clientId > :after', { tenantId, after })
      .orderBy('c.clientId')
      .limit(Math.min(limit, PAGE_MAX))
      .getMany();
  }

  async delete(tenantId: string, clientId: string, actor: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const result = await m.delete(CibaClient, { tenantId, clientId });
      if (!result.affected) throw notFound(clientId);
      await this.audit.append(m, { tenantId, type: 'ciba_client.deleted', actor, data: { client_id: clientId } });
    });
    this.verified.forget(clientId);
  }

  /** Any tenant's client: what client authentication looks up (the client names its tenant). */
  find(clientId: string): Promise<CibaClient | null> {
    return this.dataSource.manager.findOneBy(CibaClient, { clientId });
  }

  /** The row of any tenant, locked for this write. */
  private async lock(m: EntityManager, clientId: string): Promise<CibaClient | null> {
    return m.findOne(CibaClient, { where: { clientId }, lock: { mode: 'pessimistic_write' } });
  }
}

async function newSecret(): Promise<{ secret: string; hash: string }> {
  const secret = generateClientSecret();
  return { secret, hash: await hashClientSecret(secret) };
}

const notFound = (clientId: string) => new NotFound(`no CIBA client "${clientId}"`);

/** The registration on the wire (RFC 7591 names); the secret only when this response issued it. */
export function cibaClientView(c: CibaClient, clientSecret?: string) {
  return {
    client_id: c.clientId,
    client_name: c.name,
    backchannel_token_delivery_mode: c.backchannelTokenDeliveryMode,
    backchannel_client_notification_endpoint: c.backchannelClientNotificationEndpoint,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    jwks: c.jwks,
    jwks_uri: c.jwksUri,
    ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}
