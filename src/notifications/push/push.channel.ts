import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { getVapidHeaders, sendNotification, WebPushError } from 'web-push';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { ApproverChannel, OutgoingMessage } from '../approver-channel';
import type { Tried } from '../delivery-finish';
import type { Recipient } from '../directory/approver-directory.service';
import type { DeliveryToMake } from '../notification-deliveries.repository';
import { PushConnections } from './push-connections';
import { PushEndpointPolicy } from './push-endpoint.policy';
import { PushSubscription } from './push-subscription.entity';

/** sent; retry (transient: 429, 5xx, network); failed (permanent); gone (404/410: drop the subscription); skipped. */
export interface SendOutcome {
  outcome: 'sent' | 'retry' | 'failed' | 'gone' | 'skipped';
  error?: string;
}

/**
 * Web push (RFC 8030) with VAPID (RFC 8292) and an aes128gcm-encrypted payload (RFC 8291), via
 * web-push. Each send first checks the endpoint and the addresses its name resolves to
 * (PushEndpointPolicy), then connects to the checked address only (a connection kept alive for it,
 * PushConnections).
 */
@Injectable()
export class PushChannel extends ApproverChannel implements OnModuleDestroy {
  readonly name = 'push';
  readonly enabled: boolean;
  /** Connections to push services, trusting the extra CA certificate(s) of PUSH_CA_FILE. */
  private readonly connections: PushConnections;
  /** VAPID JWTs per push service origin: one ES256 signature per origin per hour, not per push. */
  private readonly vapid = new Map<string, { authorization: string; renewAt: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly endpoints: PushEndpointPolicy,
  ) {
    super();
    this.enabled = !!(config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY);
    this.connections = new PushConnections(config.PUSH_CA_FILE ? readFileSync(config.PUSH_CA_FILE, 'utf8') : undefined);
  }

  onModuleDestroy(): void {
    this.connections.close();
  }

  reaches(recipient: Pick<Recipient, 'hasPush'>): boolean {
    return recipient.hasPush;
  }

  /** To each of the person's subscriptions, alive until the message stops mattering, replacing an earlier one of the same topic. */
  async deliver(delivery: DeliveryToMake, message: OutgoingMessage): Promise<Tried[]> {
    const subscriptions = delivery.subscriptions ?? [];
    if (!subscriptions.length) return [{ target: delivery.approver_id, outcome: { outcome: 'skipped', error: 'the approver has no push subscription' } }];
    const ttl = Math.ceil((message.expiresAt.getTime() - Date.now()) / 1000);
    return Promise.all(subscriptions.map(async (s): Promise<Tried> => ({ target: s.id, outcome: await this.send(s, message.push, ttl, message.topic) })));
  }

  get publicKey(): string | null {
    return this.enabled ? this.config.VAPID_PUBLIC_KEY! : null;
  }

  /** RFC 8292: aud is the push service's origin; exp at most 24 h ahead (12 h here, renewed after 1 h). */
  private vapidAuthorization(endpoint: string): string {
    const audience = new URL(endpoint).origin;
    const cached = this.vapid.get(audience);
    if (cached && cached.renewAt > Date.now()) return cached.authorization;
    const expiration = Math.floor(Date.now() / 1000) + 12 * 3600;
    const { Authorization } = getVapidHeaders(
      audience,
      this.config.VAPID_SUBJECT,
      this.config.VAPID_PUBLIC_KEY!,
      this.config.VAPID_PRIVATE_KEY!,
      'aes128gcm',
      expiration,
    );
    this.vapid.set(audience, { authorization: Authorization, renewAt: Date.now() + 3600_000 });
    return Authorization;
  }

  async send(subscription: Pick<PushSubscription, 'endpoint' | 'p256dh' | 'auth'>, payload: object, ttlSeconds: number, topic: string): Promise<SendOutcome> {
    if (!this.enabled) return { outcome: 'skipped', error: 'web push is off (no VAPID keys)' };
    try {
      // A name that does not resolve throws: a network error, retried like one.
      const checked = await this.endpoints.check(subscription.endpoint);
      if (checked.refusal !== undefined) return { outcome: 'failed', error: `endpoint refused: ${checked.refusal}`.slice(0, 300) };
      // Only connections to the checked address: a socket pooled for the name alone could have been opened to another.
      const agent = this.connections.agentFor(new URL(subscription.endpoint), checked.address);
      await sendNotification({ endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } }, JSON.stringify(payload), {
        headers: { Authorization: this.vapidAuthorization(subscription.endpoint) },
        TTL: Math.max(0, ttlSeconds),
        urgency: 'high',
        // A later notification for the same request (a reminder) replaces an undelivered earlier one.
        topic,
        timeout: this.config.NOTIFY_TIMEOUT_MS,
        agent,
      });
      return { outcome: 'sent' };
    } catch (e) {
      if (e instanceof WebPushError) {
        if (e.statusCode === 404 || e.statusCode === 410) return { outcome: 'gone', error: `${e.statusCode}: subscription is gone` };
        const transient = e.statusCode === 429 || e.statusCode >= 500;
        return { outcome: transient ? 'retry' : 'failed', error: `${e.statusCode}: ${(e.body || e.message).slice(0, 300)}` };
      }
      return { outcome: 'retry', error: (e as Error).message.slice(0, 300) };
    }
  }
}
