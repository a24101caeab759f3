import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { GroupedCalls } from '../common/database/grouped-calls';
import { entityFromJson, insertStatement, Statement } from '../common/database/insert-statement';
import { runPrepared } from '../common/database/prepared-statements';
import { rowFilter } from '../common/database/select-entities';
import { StatementsTogether } from '../common/database/statements-together';
import type { DeliveryFinish } from './delivery-finish';
import { DirectoryMembership } from './directory/directory-membership.service';
import { NotificationAttempt, NotificationChannel, NotificationRound } from './notification-delivery.entity';

/** A delivery with what making it needs: the person as the directory has them now, their push subscriptions, the request. */
export interface DeliveryToMake {
  id: string;
  tenant_id: string;
  status: string;
  approval_id: string | null;
  round: NotificationRound;
  /** Set for a sampled review's delivery (approval_id and round are then null). */
  review_id: string | null;
  approver_id: string;
  via_group: string | null;
  channel: NotificationChannel;
  display_name: string | null;
  email: string | null;
  approver_status: string | null;
  voted: boolean;
  subscriptions: { id: string; endpoint: string; p256dh: string; auth: string }[] | null;
  /** The approval request it is about (null for a review's delivery, or when the request is gone). */
  request: ApprovalRequest | null;
}

/**
 * Notification deliveries as the fan-out's hot path reads and writes them: one query loads a
 * delivery with everything sending it needs, one statement records how it went (its attempts,
 * its status, the push subscriptions that took it or are gone, its audit event).
 */
@Injectable()
export class NotificationDeliveries {
  /**
   * The records of deliveries that finish at once go in one round trip, each its own statement:
   * one that fails fails only its own delivery. One run at a time: records of one person's
   * deliveries touch the same push subscriptions, and two runs could take them in opposite orders.
   */
  private readonly records: StatementsTogether;

  constructor(
    private readonly dataSource: DataSource,
    private readonly membership: DirectoryMembership,
  ) {
    this.records = new StatementsTogether(dataSource, { maxInFlight: 1, maxBatch: 50 });
  }

  /** Loads of deliveries that run at once (a worker's concurrent jobs) share one query. */
  private readonly loads = new GroupedCalls<{ tenantId: string; deliveryId: string }, DeliveryToMake>(
    (keys) => this.loadMany(keys),
    (key) => `${key.tenantId} ${key.deliveryId}`,
  );

  load(tenantId: string, deliveryId: string): Promise<DeliveryToMake | undefined> {
    // Not an id at all (no row has it): answered here, so it cannot fail the query it would share.
    if (!/^\d{1,18}$/.test(deliveryId)) return Promise.resolve(undefined);
    return this.loads.call({ tenantId, deliveryId });
  }

  private async loadMany(keys: { tenantId: string; deliveryId: string }[]): Promise<Map<string, DeliveryToMake>> {
    const rows = await runPrepared<Omit<DeliveryToMake, 'request'> & { request: Record<string, unknown> | null }>(
      this.dataSource.manager,
      `SELECT d.id::text AS id, d.tenant_id, d.status, d.approval_id, d.round, d.review_id, d.approver_id, d.via_group, d.channel, a.display_name, a.email,
              a.status AS approver_status,
              v.approver_id IS NOT NULL AS voted,
              CASE WHEN d.channel = 'push' THEN (
                SELECT json_agg(json_build_object('id', s.id, 'endpoint', s.endpoint, 'p256dh', s.p256dh, 'auth', s.auth) ORDER BY s.created_at)
                  FROM push_subscriptions s WHERE s.tenant_id = d.tenant_id AND s.approver_id = d.approver_id) END AS subscriptions,
              row_to_json(r) AS request
         FROM unnest($1::bigint[], $2::text[]) AS k(id, tenant_id)
         -- Index probes per key, whatever the statistics: this prepared statement's generic plan, made
         -- while the tables were small, hash-joined sequential scans of every delivery and request, and
         -- of every vote for "voted" (1.4 ms a load after a few minutes of parking, and growing). OFFSET 0
         -- and LIMIT keep each subquery from being flattened into a join the planner may choose to hash
         -- (test/common/generic-plans.e2e-spec.ts).
         CROSS JOIN LATERAL (SELECT * FROM notification_deliveries WHERE id = k.id AND tenant_id = k.tenant_id OFFSET 0) d
         LEFT JOIN LATERAL (SELECT * FROM approvers WHERE tenant_id = d.tenant_id AND id = d.approver_id OFFSET 0) a ON true
         LEFT JOIN LATERAL (SELECT * FROM approval_requests WHERE id = d.approval_id AND ${rowFilter('tenant_id = d.tenant_id')} OFFSET 0) r ON true
         LEFT JOIN LATERAL (SELECT approver_id FROM approval_votes WHERE approval_id = d.approval_id AND approver_id = d.approver_id LIMIT 1) v ON true`,
      [keys.map((k) => k.deliveryId), keys.map((k) => k.tenantId)],
    );
    return new Map(
      rows.map((row) => [
        `${row.tenant_id} ${row.id}`,
        { ...row, request: row.request ? entityFromJson(this.dataSource, ApprovalRequest, row.request) : null },
      ]),
    );
  }

  /**
   * Records an attempt as `finish` (delivery-finish.ts) says, with `audit` (its audit event, if
   * any), in one statement. A push subscription that is gone changes who can be reached: the
   * directory's cached answers are dropped on every instance.
   */
  async finish(delivery: DeliveryToMake, attempt: number, finish: DeliveryFinish, audit?: (paramOffset: number) => Statement): Promise<void> {
    const attempts = insertStatement(
      this.dataSource,
      NotificationAttempt,
      finish.attempts.map((row) => ({ tenantId: delivery.tenant_id, deliveryId: delivery.id, channel: delivery.channel, attempt, ...row })),
    );
    const params: unknown[] = [...attempts.params];
    const p = (value: unknown) => `$${params.push(value)}`;
    let sql = `WITH attempts AS (${attempts.sql}),
      delivery AS (UPDATE notification_deliveries SET status = ${p(finish.status)}, attempts = ${p(attempt)},
        last_error = ${p(finish.lastError)}, sent_at = ${finish.result === 'sent' ? 'now()' : 'NULL'}, updated_at = now()
        WHERE id = ${p(delivery.id)} AND tenant_id = ${p(delivery.tenant_id)}),
      took AS (UPDATE push_subscriptions SET last_success_at = now() WHERE id = ANY(${p(finish.took)}::uuid[])),
      dropped AS (DELETE FROM push_subscriptions WHERE id = ANY(${p(finish.gone)}::uuid[])) `;
    if (audit) {
      const entry = audit(params.length);
      sql += entry.sql;
      params.push(...entry.params);
    } else {
      sql += 'SELECT 1';
    }
    await this.records.run({ sql, params });
    if (finish.gone.length) await this.membership.changed(delivery.tenant_id);
  }
}
