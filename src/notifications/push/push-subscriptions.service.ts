import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NotFound } from '../../common/errors/protocol-errors';
import { DirectoryMembership } from '../directory/directory-membership.service';
import { PushSubscription } from './push-subscription.entity';
import { SubscriptionInput } from './push-subscription.command';

/** Approvers' push subscriptions (their endpoints are held to PushEndpointPolicy). */
@Injectable()
export class PushSubscriptions {
  constructor(
    private readonly dataSource: DataSource,
    private readonly membership: DirectoryMembership,
  ) {}

  /**
   * Saves a subscription for this approver; the same endpoint again replaces its keys (browsers
   * rotate them). Only this approver's own row: the same endpoint held by another approver or
   * tenant (one browser, several people or tenants) stays theirs.
   */
  async subscribe(
    tenantId: string,
    approverId: string,
    input: SubscriptionInput,
    userAgent: string | null,
  ): Promise<Pick<PushSubscription, 'id' | 'approverId' | 'createdAt'>> {
    const [row] = await this.dataSource.query(
      `INSERT INTO push_subscriptions (tenant_id, approver_id, endpoint, p256dh, auth, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, approver_id, endpoint) DO UPDATE SET
         p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, user_agent = EXCLUDED.user_agent, created_at = now()
       RETURNING id, approver_id AS "approverId", created_at AS "createdAt"`,
      [tenantId, approverId, input.endpoint, input.keys.p256dh, input.keys.auth, userAgent?.slice(0, 300) ?? null],
    );
    // Who can be reached by push is part of how references resolve: the next request notifies this one too.
    await this.membership.changed(tenantId);
    return row;
  }

  /** An approver's subscriptions, oldest first (a review's notification goes to each). */
  forApprover(tenantId: string, approverId: string): Promise<PushSubscription[]> {
    return this.dataSource.manager.find(PushSubscription, { where: { tenantId, approverId }, order: { createdAt: 'ASC' } });
  }

  async unsubscribe(tenantId: string, approverId: string, id: string): Promise<void> {
    const result = await this.dataSource.manager.delete(PushSubscription, { tenantId, approverId, id });
    if (!result.affected) throw new NotFound('no such push subscription');
    await this.membership.changed(tenantId);
  }
}
