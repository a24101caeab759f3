import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from '../../src/common/database/data-source-options';

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Per run, so that concurrent runs on one machine never touch each other's databases. */
export function templateDb(): string {
  const name = process.env.COUNTERSIGN_TEST_TEMPLATE;
  if (!name) throw new Error('COUNTERSIGN_TEST_TEMPLATE is not set: run the tests through jest (globalSetup)');
  return name;
}

export function databaseUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** One database per test file, cloned from the migrated template (fast and isolated). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${templateDb()}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${templateDb()}`));
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

export async function createTemplate(migrate: (url: string) => Promise<void>): Promise<void> {
  const name = `cstest_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  process.env.COUNTERSIGN_TEST_TEMPLATE = name;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  await migrate(databaseUrl(name));
}

/** Drops the run's template and any database a crashed test left behind. */
export async function dropTemplate(): Promise<void> {
  const name = templateDb();
  await admin(async (c) => {
    const left = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${name}%`]);
    for (const { datname } of left.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  });
}

export interface TestDataSource {
  db: TestDatabase;
  ds: DataSource;
  /** Destroys the DataSource, then drops the database. */
  close(): Promise<void>;
}

/** A database of its own (see createTestDatabase) with the service's DataSource on it, for tests below the app; `entities` for a test that writes through a part's code. */
export async function openTestDataSource(poolSize: number, entities: DataSourceOptions['entities'] = []): Promise<TestDataSource> {
  const db = await createTestDatabase();
  const ds = await new DataSource({ ...dataSourceOptions(db.url, poolSize), entities }).initialize();
  return {
    db,
    ds,
    close: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

/** Undoes the migrations after `name`, then `name` itself: a test of one migration's way back, whatever came after it. */
export async function undoMigrationsThrough(ds: DataSource, name: string): Promise<void> {
  for (;;) {
    const [last]: { name: string }[] = await ds.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`);
    if (!last) throw new Error(`migration ${name} was never run`);
    await ds.undoLastMigration();
    if (last.name === name) return;
  }
}
