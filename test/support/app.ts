import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { createApiApp } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase } from './database';
import { seedDirectory } from './directory';
import { prepareTestKeys, TEST_AGENT_ISSUER, TEST_GATEWAY_AUDIENCE, TEST_GATEWAY_ISSUER } from './keys';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  config: AppConfig;
  close(): Promise<void>;
}

/** The environment of a test run: one database and one Redis key prefix, shared by its app instances. */
export interface TestEnvironment {
  db: TestDatabase;
  redisPrefix: string;
  config(overrides?: Record<string, string>): Promise<AppConfig>;
  start(overrides?: Record<string, string>): Promise<TestApp>;
  /** Deletes every Redis key of this environment: what "Redis lost its data" looks like to us. */
  flushRedis(): Promise<number>;
  teardown(): Promise<void>;
}

/** `directory: false` starts with an empty approver directory (otherwise the common test people and groups are there). */
/** A port free right now: for an app whose PUBLIC_URL (the links it sends) must name its own port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Overrides that make the app's links point at itself: PORT and PUBLIC_URL on a free port. */
export async function selfLinked(): Promise<Record<string, string>> {
  const port = await freePort();
  return { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` };
}

export async function testEnvironment(options: { directory?: boolean } = {}): Promise<TestEnvironment> {
  const db = await createTestDatabase();
  if (options.directory !== false) await seedDirectory(db.url);
  const keys = await prepareTestKeys();
  const redisPrefix = `cstest-${randomBytes(4).toString('hex')}`;
  const apps = new Set<TestApp>();

  const config = async (overrides: Record<string, string> = {}) =>
    loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '10',
      DATABASE_MIGRATE_ON_START: 'false',
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      GATEWAY_JWKS_FILE: keys.gatewayJwksFile,
      GATEWAY_ISSUER: TEST_GATEWAY_ISSUER,
      GATEWAY_AUDIENCE: TEST_GATEWAY_AUDIENCE,
      SIGNING_KEYS_FILE: keys.signingKeysFile,
      AGENT_ISSUERS: JSON.stringify([{ issuer: TEST_AGENT_ISSUER, jwks_file: keys.gatewayJwksFile }]),
      INTERNAL_DOMAINS: 'acme.example',
      APPROVAL_POLL_INTERVAL: '1',
      CALLBACK_ALLOWED_HOSTS: '127.0.0.1',
      CALLBACK_ALLOW_HTTP: 'true',
      CALLBACK_BACKOFF_MS: '100',
      CALLBACK_TIMEOUT_MS: '2000',
      // A Redis that lost its data is noticed within half a second (a test never waits 5 s for it).
      REDIS_LOSS_CHECK_INTERVAL_MS: '500',
      ...overrides,
    });

  const start = async (overrides: Record<string, string> = {}): Promise<TestApp> => {
    const cfg = await config(overrides);
    const app = await createApiApp(cfg);
    await app.listen({ port: overrides.PORT ? Number(overrides.PORT) : 0, host: '127.0.0.1' });
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const handle: TestApp = {
      app,
      url,
      config: cfg,
      close: async () => {
        apps.delete(handle);
        await app.close();
      },
    };
    apps.add(handle);
    return handle;
  };

  // Like FLUSHALL for this environment's keys: collected first, then deleted in one MULTI, so the
  // app never sees half a flush (a reconcile started mid-flush would have its new jobs deleted).
  const flushRedis = async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const keys = new Set<string>();
      for (const pattern of [`${redisPrefix}:*`, `${redisPrefix}-bull:*`]) {
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          for (const key of found) keys.add(key);
        } while (cursor !== '0');
      }
      if (keys.size === 0) return 0;
      const all = [...keys];
      const flush = redis.multi();
      for (let i = 0; i < all.length; i += 1000) flush.del(...all.slice(i, i + 1000));
      const replies = (await flush.exec()) ?? [];
      return replies.reduce((sum, [error, count]) => sum + (error ? 0 : Number(count)), 0);
    } finally {
      redis.disconnect();
    }
  };

  return {
    db,
    redisPrefix,
    config,
    start,
    flushRedis,
    teardown: async () => {
      for (const a of [...apps]) await a.close().catch(() => undefined);
      await flushRedis().catch(() => undefined);
      await db.drop();
    },
  };
}
