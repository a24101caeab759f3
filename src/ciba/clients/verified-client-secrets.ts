import { Injectable } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CibaClient } from './ciba-client.entity';

/** How long a verified secret is taken on trust: a change made on another instance reaches this one within it. */
export const VERIFIED_SECRET_TTL_MS = 2000;
const MAX_ENTRIES = 10_000;

interface Entry {
  method: string;
  mac: Buffer;
  client: CibaClient;
  until: number;
}

/**
 * Client secrets this instance verified in the last VERIFIED_SECRET_TTL_MS, so that a busy client
 * does not cost a registry read per request. Neither the secret nor its stored hash is kept: an
 * HMAC of the secret under a key that lives only in this process, compared in constant time. The
 * registry forgets a client here when it is changed, its secret rotated or it is deleted, so on
 * this instance that takes effect at once; on the others within the TTL.
 */
@Injectable()
export class VerifiedClientSecrets {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, Entry>();
  /** Counts forgets: a verification that began before one is not remembered (it may have read the old row). */
  private forgets = 0;

  /** Taken before the registry read; remember() ignores a verification older than the last forget. */
  get generation(): number {
    return this.forgets;
  }

  /** The client, if `secret` was verified for it with `method` within the TTL. */
  lookup(clientId: string, method: string, secret: string, now = Date.now()): CibaClient | undefined {
    const entry = this.entries.get(clientId);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(clientId);
      return undefined;
    }
    const mac = this.mac(clientId, secret);
    return entry.method === method && timingSafeEqual(mac, entry.mac) ? entry.client : undefined;
  }

  remember(client: CibaClient, method: string, secret: string, generation: number, now = Date.now()): void {
    if (generation !== this.forgets) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(client.clientId);
    this.entries.set(client.clientId, { method, mac: this.mac(client.clientId, secret), client, until: now + VERIFIED_SECRET_TTL_MS });
  }

  forget(clientId: string): void {
    this.forgets++;
    this.entries.delete(clientId);
  }

  private mac(clientId: string, secret: string): Buffer {
    return createHmac('sha256', this.key).update(clientId).update('\n').update(secret, 'utf8').digest();
  }
}
