import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { insertStatement } from '../../common/database/insert-statement';
import { NotificationChannel, NotificationDelivery } from '../notification-delivery.entity';
import { NOTIFICATION_QUEUED } from '../notification-queues';

/** One reviewer to tell on one channel about one sampled review. */
export interface OwedReviewDelivery {
  tenantId: string;
  reviewId: string;
  approverId: string;
  channel: NotificationChannel;
}

/**
 * A sampled review's deliveries: rows of notification_deliveries, as an approval round's are, so
 * that the delivery jobs make, record and retry each of them on its own (DeliverNotification).
 */
@Injectable()
export class ReviewDeliveries {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Writes the deliveries and their notification.queued outbox events in the caller's transaction.
   * One the review owes already is not written again (nor its job queued twice).
   */
  async owe(manager: EntityManager, owed: OwedReviewDelivery[]): Promise<void> {
    if (!owed.length) return;
    const insert = insertStatement(
      this.dataSource,
      NotificationDelivery,
      owed.map((d) => ({ ...d, approvalId: null, round: null, viaGroup: null, status: 'queued' as const, attempts: 0 })),
    );
    await manager.query(
      `WITH owed AS (${insert.sql} ON CONFLICT (review_id, approver_id, channel) WHERE review_id IS NOT NULL DO NOTHING RETURNING id, tenant_id, channel)
       INSERT INTO outbox (topic, payload) SELECT '${NOTIFICATION_QUEUED}', jsonb_build_object('tenantId', tenant_id, 'deliveryId', id::text, 'channel', channel) FROM owed`,
      insert.params,
    );
  }
}
