import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

/**
 * Redis connections: one for commands and publishing, one in subscriber mode (a subscribed
 * connection can do nothing else). BullMQ opens its own.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly commands: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.commands = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: false });
    // No ready check: it would send INFO on a connection that is in subscriber mode after a reconnect.
    // No automatic resubscribe: ioredis sends it with no one to take its failure (a close during it,
    // on shutdown, is an unhandled rejection); RedisBus resubscribes on 'ready' instead.
    this.subscriber = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableReadyCheck: false, autoResubscribe: false });
    this.prefix = config.REDIS_PREFIX;
  }

  key(name: string): string {
    return `${this.prefix}:${name}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
  }
}
