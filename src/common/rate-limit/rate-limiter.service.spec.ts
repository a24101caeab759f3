import { AppConfig } from '../../config/app-config';
import { RateLimited } from '../errors/protocol-errors';
import { RedisConnections } from '../redis/redis-connections';
import { RateLimiter } from './rate-limiter.service';

/** An in-memory Redis with the commands the limiter sends, counting round trips (a MULTI or a pipeline is one). */
class FakeRedis {
  readonly counts = new Map<string, number>();
  roundTrips = 0;
  failNext = false;
  key = (name: string) => `t:${name}`;
  readonly commands = {
    multi: () => this.batch(),
    pipeline: () => this.batch(),
  };

  private batch() {
    const ops: (() => [Error | null, unknown])[] = [];
    const chain = {
      incrby: (key: string, n: number) => {
        ops.push(() => {
          this.counts.set(key, (this.counts.get(key) ?? 0) + n);
          return [null, this.counts.get(key)];
        });
        return chain;
      },
      pexpire: () => {
        ops.push(() => [null, 1]);
        return chain;
      },
      exec: async () => {
        this.roundTrips++;
        if (this.failNext) {
          this.failNext = false;
          throw new Error('connection lost');
        }
        return ops.map((op) => op());
      },
    };
    return chain;
  }
}

function limiter(max: number) {
  const redis = new FakeRedis();
  const config = { RATE_LIMIT_GATEWAY: { max, windowMs: 3_600_000 }, RATE_LIMIT_CIBA_CLIENT: null, RATE_LIMIT_APPROVER_LINK: null } as unknown as AppConfig;
  return { redis, limits: new RateLimiter(redis as unknown as RedisConnections, config) };
}

const NOW = 3_600_000 * 100 + 5;
const total = (redis: FakeRedis) => [...redis.counts.values()].reduce((a, b) => a + b, 0);

describe('RateLimiter', () => {
  it('counts the first request of a window in Redis, then the first half of the budget locally, sent later in one pipeline', async () => {
    const { redis, limits } = limiter(100);
    await limits.consume('gateway', 'gw', NOW);
    expect(redis.roundTrips).toBe(1);
    for (let i = 0; i < 49; i++) await limits.consume('gateway', 'gw', NOW);
    expect(redis.roundTrips).toBe(1);
    expect(total(redis)).toBe(1);
    await limits.flush(NOW);
    expect(redis.roundTrips).toBe(2);
    expect(total(redis)).toBe(50);
  });

  it('counts the second half of the budget in Redis on the request path, with the increments owed, and refuses exactly the request over the limit', async () => {
    const { redis, limits } = limiter(10);
    for (let i = 0; i < 10; i++) await limits.consume('gateway', 'gw', NOW);
    expect(total(redis)).toBe(10);
    await expect(limits.consume('gateway', 'gw', NOW)).rejects.toBeInstanceOf(RateLimited);
    expect(total(redis)).toBe(11);
  });

  it('sees what other instances counted: a second instance refuses once the shared count is over the limit', async () => {
    const { redis, limits } = limiter(10);
    for (let i = 0; i < 5; i++) await limits.consume('gateway', 'gw', NOW);
    await limits.flush(NOW);
    const other = new RateLimiter(redis as unknown as RedisConnections, { RATE_LIMIT_GATEWAY: { max: 10, windowMs: 3_600_000 } } as unknown as AppConfig);
    for (let i = 0; i < 5; i++) await other.consume('gateway', 'gw', NOW);
    await expect(other.consume('gateway', 'gw', NOW)).rejects.toBeInstanceOf(RateLimited);
  });

  it('keeps the increments owed when a flush fails and sends them with the next one', async () => {
    const { redis, limits } = limiter(100);
    for (let i = 0; i < 20; i++) await limits.consume('gateway', 'gw', NOW);
    redis.failNext = true;
    await expect(limits.flush(NOW)).rejects.toThrow('connection lost');
    expect(total(redis)).toBe(1);
    await limits.flush(NOW);
    expect(total(redis)).toBe(20);
  });

  it('goes back to Redis once what it read of the shared count is older than KNOWN_COUNT_MAX_AGE_MS', async () => {
    const { redis, limits } = limiter(100);
    await limits.consume('gateway', 'gw', NOW);
    await limits.consume('gateway', 'gw', NOW + 50);
    expect(redis.roundTrips).toBe(1);
    await limits.consume('gateway', 'gw', NOW + 150);
    expect(redis.roundTrips).toBe(2);
    expect(total(redis)).toBe(3);
  });

  it('counts a limit of 3 on the request path every time', async () => {
    const { redis, limits } = limiter(3);
    for (let i = 0; i < 3; i++) await limits.consume('gateway', 'gw', NOW);
    expect(redis.roundTrips).toBe(3);
    await expect(limits.consume('gateway', 'gw', NOW)).rejects.toBeInstanceOf(RateLimited);
  });
});
