import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { insertStatement } from '../common/database/insert-statement';
import { NotificationDelivery, NotificationRound } from './notification-delivery.entity';
import { NOTIFICATION_QUEUED } from './notification-queues';

/** A delivery a round owes, before it is stored. */
export type OwedDelivery = Omit<NotificationDelivery, 'id' | 'createdAt' | 'updatedAt'>;

/** A round's rows as `name AS (…)` CTEs and their parameters, for one statement with other writes. */
export interface RoundRows {
  ctes: string[];
  params: unknown[];
}

/**
 * Notification rounds and the deliveries they owe, as stored: a round's mark (a
 * notification_rounds row: the reconciler redoes a round without one), its deliveries and their
 * outbox events (which become the delivery jobs). Every query is scoped to the request it serves.
 */
@Injectable()
export class NotificationRounds {
  constructor(private readonly dataSource: DataSource) {}

  /** The rounds of a request queued so far. */
  async queued(tenantId: string, approvalId: string): Promise<Set<NotificationRound>> {
    const rows: { round: NotificationRound }[] = await this.dataSource.query(
      `SELECT round FROM notification_rounds WHERE approval_id = $1 AND tenant_id = $2`,
      [approvalId, tenantId],
    );
    return new Set(rows.map((r) => r.round));
  }

  /** The round's deliveries not yet sent. */
  stillQueued(tenantId: string, approvalId: string, round: NotificationRound): Promise<NotificationDelivery[]> {
    return this.dataSource.manager.find(NotificationDelivery, { where: { tenantId, approvalId, round, status: 'queued' } });
  }

  /**
   * The round's mark, its deliveries and their outbox events, with parameters numbered from
   * `paramOffset + 1`: for the round job's statement or, for the initial round, the park statement.
   * A delivery owed already (a retried round) is not owed twice.
   */
  rows(tenantId: string, approvalId: string, round: NotificationRound, owed: OwedDelivery[], paramOffset: number): RoundRows {
    const params: unknown[] = [approvalId, round, tenantId];
    const ctes = [
      `round_mark AS (INSERT INTO notification_rounds (approval_id, round, tenant_id) VALUES ($${paramOffset + 1}, $${paramOffset + 2}, $${paramOffset + 3}) ON CONFLICT DO NOTHING)`,
    ];
    if (owed.length) {
      const insert = insertStatement(this.dataSource, NotificationDelivery, owed, paramOffset + params.length);
      params.push(...insert.params);
      ctes.push(`owed AS (${insert.sql} ON CONFLICT ON CONSTRAINT notification_deliveries_once DO NOTHING RETURNING id, tenant_id, channel)`);
      ctes.push(
        // Each event carries its delivery's rank in the round (the order owed: ids ascend with it).
        `owed_outbox AS (INSERT INTO outbox (topic, payload) SELECT '${NOTIFICATION_QUEUED}',
           jsonb_build_object('tenantId', tenant_id, 'deliveryId', id::text, 'channel', channel, 'rank', row_number() OVER (ORDER BY id) - 1) FROM owed)`,
      );
    }
    return { ctes, params };
  }

  /** Commits a round's rows with the writes that go with them (its audit event) in one statement. */
  async commit(rows: RoundRows): Promise<void> {
    await this.dataSource.query(`WITH ${rows.ctes.join(', ')} SELECT 1`, rows.params);
  }
}
