/**
 * The gateway's state beyond one request: parked calls, used approval tokens and MCP tasks. In
 * this process by default; with `state.redis_url`, in Redis, shared by every instance (see
 * parked-calls.ts and redis-task-store.ts). Redis is checked at start-up: an instance that cannot
 * reach it does not start.
 */
import { Redis } from 'ioredis';
import { GatewayConfig, GatewayConfigError } from './gateway-config';
import { MemoryParkedCalls, ParkedCalls, RedisParkedCalls } from './parked-calls';
import { RedisTaskStore } from './redis-task-store';
import { CancellableTaskStore, GatewayTaskStore } from './task-store';

export interface GatewayState {
  parked: ParkedCalls;
  tasks: GatewayTaskStore;
  close(): Promise<void>;
}

export async function openGatewayState(config: Pick<GatewayConfig, 'state'>): Promise<GatewayState> {
  if (!config.state.redis_url) {
    const parked = new MemoryParkedCalls();
    const tasks = new CancellableTaskStore();
    return { parked, tasks, close: async () => void (await Promise.all([tasks.close(), parked.close()])) };
  }
  const redis = new Redis(config.state.redis_url, { lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5000 });
  let lastError: NodeJS.ErrnoException | undefined;
  // Reported per command as well: a failed command fails the call closed.
  redis.on('error', (e: NodeJS.ErrnoException) => (lastError = e));
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    const why = lastError?.code ?? (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new GatewayConfigError([{ field: 'state.redis_url', message: `Redis cannot be reached (${why})` }]);
  }
  const prefix = config.state.key_prefix;
  const parked = new RedisParkedCalls(redis, prefix);
  const tasks = await RedisTaskStore.open(redis, prefix);
  return {
    parked,
    tasks,
    close: async () => {
      await tasks.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
