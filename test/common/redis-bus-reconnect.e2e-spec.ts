import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBus } from '../../src/common/redis/redis-bus.service';
import { RedisConnections } from '../../src/common/redis/redis-connections';
import { AppConfig } from '../../src/config/app-config';
import { REDIS_URL } from '../support/app';
import { eventually } from '../support/callback-server';
import { RedisProxy } from '../ops/redis-proxy';

/** The pub/sub connection across a Redis outage: subscriptions taken up again, and no failure left unhandled. */
describe('RedisBus across a reconnect', () => {
  let proxy: RedisProxy;
  let connections: RedisConnections;
  let bus: RedisBus;
  let direct: Redis;
  const prefix = `cstest-bus-${randomBytes(4).toString('hex')}`;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeEach(async () => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    proxy = await RedisProxy.start(REDIS_URL);
    connections = new RedisConnections({ REDIS_URL: proxy.url, REDIS_PREFIX: prefix } as AppConfig);
    for (const c of [connections.commands, connections.subscriber]) c.on('error', () => undefined);
    bus = new RedisBus(connections);
    direct = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    await connections.onApplicationShutdown();
    direct.disconnect();
    await proxy.cut();
    process.off('unhandledRejection', onUnhandled);
  });

  const reconnected = () => new Promise<void>((resolve) => connections.subscriber.once('ready', () => resolve()));

  it('delivers messages published after Redis came back', async () => {
    const received: unknown[] = [];
    await bus.subscribe('wake', (m) => received.push(m));
    await proxy.cut();
    const ready = reconnected();
    await proxy.restore();
    await ready;
    // Published around the proxy, straight to Redis: only a taken-up subscription hears it.
    await eventually(async () => {
      await direct.publish(`${prefix}:wake`, JSON.stringify({ n: 1 }));
      return received.length > 0;
    }, 5_000);
    expect(received[0]).toEqual({ n: 1 });
  });

  it('leaves no unhandled rejection when the connection closes while it resubscribes', async () => {
    await bus.subscribe('wake', () => undefined);
    await proxy.cut();
    // Closed at once when it is back: the resubscribe sent on 'ready' is still unanswered.
    const closedAtReady = new Promise<void>((resolve) =>
      connections.subscriber.once('ready', () => {
        connections.subscriber.disconnect();
        resolve();
      }),
    );
    await proxy.restore();
    await closedAtReady;
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
  });
});
