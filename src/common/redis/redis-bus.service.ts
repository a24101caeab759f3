import { Injectable, Logger } from '@nestjs/common';
import { RedisConnections } from './redis-connections';

/**
 * Cross-instance notifications over Redis pub/sub (cache invalidation, wake-ups). Messages are
 * hints: the database stays the truth, so a lost message only delays, never corrupts.
 */
@Injectable()
export class RedisBus {
  private readonly logger = new Logger(RedisBus.name);
  private readonly handlers = new Map<string, ((message: unknown) => void)[]>();
  private listening = false;

  constructor(private readonly redis: RedisConnections) {}

  async subscribe(topic: string, handler: (message: unknown) => void): Promise<void> {
    const channel = this.redis.key(topic);
    if (!this.listening) {
      this.listening = true;
      this.redis.subscriber.on('message', (ch: string, raw: string) => {
        const list = this.handlers.get(ch);
        if (!list) return;
        let message: unknown;
        try {
          message = JSON.parse(raw);
        } catch {
          this.logger.warn(`ignored a malformed message on ${ch}`);
          return;
        }
        for (const h of list) h(message);
      });
    }
    const list = this.handlers.get(channel) ?? [];
    list.push(handler);
    this.handlers.set(channel, list);
    if (list.length === 1) await this.redis.subscribe(channel);
  }

  async publish(topic: string, message: unknown): Promise<void> {
    await this.redis.commands.publish(this.redis.key(topic), JSON.stringify(message));
  }
}
