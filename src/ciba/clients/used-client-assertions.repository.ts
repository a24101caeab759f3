import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';

/** How often (at most) one instance purges expired rows, and how long past expiry a row is kept. */
const PURGE_EVERY_MS = 60_000;
/** Slack for clocks of app hosts that disagree: a row outlives its assertion by this much. */
const PURGE_MARGIN_MS = 60_000;

/**
 * The jti of each accepted client assertion (RFC 7523 §3: single use), in Postgres so that a
 * Redis flush or restart cannot make a used assertion usable again. One INSERT … ON CONFLICT DO
 * NOTHING per assertion decides, atomically across instances, whether it is the first use.
 * Rows only accumulate while assertions are used, so the purge of expired ones runs on use, at
 * most once a minute per instance, in the background.
 */
@Injectable()
export class UsedClientAssertions {
  private readonly logger = new Logger(UsedClientAssertions.name);
  private lastPurge = 0;

  constructor(private readonly dataSource: DataSource) {}

  /** True the first time (tenant, client, jti) is seen; remembered until `expiresAt`. */
  async claim(tenantId: string, clientId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO used_client_assertions (tenant_id, client_id, jti_sha256, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [tenantId, clientId, jtiHash(jti), expiresAt],
    );
    this.purgeNowAndThen();
    return rows.length === 1;
  }

  /** Deletes the rows of assertions that can no longer be accepted; returns how many. */
  async purgeExpired(now = Date.now()): Promise<number> {
    const [, deleted] = (await this.dataSource.query(`DELETE FROM used_client_assertions WHERE expires_at < $1`, [new Date(now - PURGE_MARGIN_MS)])) as [
      unknown,
      number,
    ];
    return deleted;
  }

  private purgeNowAndThen(): void {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    this.purgeExpired(now).catch((e) => this.logger.warn(`purging used client assertions failed: ${(e as Error).message}`));
  }
}

/** UTF-16 code units, not UTF-8: two jtis that differ only in lone surrogates stay distinct. */
export const jtiHash = (jti: string) => createHash('sha256').update(Buffer.from(jti, 'utf16le')).digest('base64url');
