import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

/**
 * Redis connections: one for commands and publishing, one in subscriber mode (a subscribed
 * connection can do nothing else). BullMQ opens its own. Subscribe through subscribe(): the
 * subscriptions are taken up again after a reconnect.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly commands: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;
  private readonly channels = new Set<string>();
  private readonly logger = new Logger(RedisConnections.name);

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    // Auto-pipelining: the commands sent in one turn of the event loop (the session counters of the
    // decisions served in it, say) go in one write; a write is a system call, dear on this kind of machine.
    this.commands = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: false, enableAutoPipelining: true });
    // No ready check: it would send INFO on a connection that is in subscriber mode after a reconnect.
    // No automatic resubscribe: ioredis sends it with no one to take its failure (a close during it,
    // on shutdown, is an unhandled rejection). The 'ready' handler below does it instead; a failure
    // means the connection closed again, and the next 'ready' takes the channels up.
    this.subscriber = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, enableReadyCheck: false, autoResubscribe: false });
    this.subscriber.on('ready', () => {
      if (this.channels.size === 0) return;
      this.subscriber.subscribe(...this.channels).catch((e: Error) => this.logger.warn(`resubscribing after a reconnect failed: ${e.message}`));
    });
    this.prefix = config.REDIS_PREFIX;
  }

  /** Subscribes the subscriber connection to the channel, now and after every reconnect. */
  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
    await this.subscriber.subscribe(channel);
  }

  key(name: string): string {
    return `${this.prefix}:${name}`;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
  }
}
