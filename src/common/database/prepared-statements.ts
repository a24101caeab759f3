import { createHash } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';

/** What node-postgres needs to run a query: a pool or a checked-out client. */
export interface PgQueryable {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** Data sources whose hot statements run as named prepared statements (DATABASE_PREPARED_STATEMENTS). */
const enabledFor = new WeakSet<DataSource>();
/** Texts named so far in this process, and their names. */
const names = new Map<string, string>();
/**
 * A statement built for a varying number of rows has several texts; each named one is kept by
 * every connection (and its Postgres session) for good, so past this many the rest run unnamed.
 */
const MAX_NAMED = 256;

/** The data source's node-postgres pool, for a hot statement that TypeORM's query runner would only slow down. */
export function pgPool(dataSource: DataSource): PgQueryable {
  return (dataSource.driver as unknown as { master: PgQueryable }).master;
}

export function usePreparedStatements(dataSource: DataSource, enabled: boolean): void {
  if (enabled) enabledFor.add(dataSource);
  else enabledFor.delete(dataSource);
}

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (!name && names.size < MAX_NAMED) {
    name = `cs_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Runs a hot statement (parking a call, a vote's and a redeem's reads and writes, a delivery's
 * load) as a named prepared statement: Postgres parses and plans it once per connection instead
 * of on every call. Measured on the park statement: 0.55 → 0.29 ms of database CPU, the client's
 * share lower too. In `on`'s transaction when it has one. Without prepared statements (a pooler
 * that cannot keep them, DATABASE_PREPARED_STATEMENTS=false) it runs as any other query.
 */
export async function runPrepared<Row>(on: EntityManager, text: string, values: unknown[]): Promise<Row[]> {
  const name = enabledFor.has(on.connection) ? nameOf(text) : undefined;
  if (!name) return on.query(text, values);
  const runner = on.queryRunner;
  const client = runner && !runner.isReleased ? await (runner as unknown as { connect(): Promise<PgQueryable> }).connect() : pgPool(on.connection);
  const result = await client.query({ name, text, values });
  return result.rows as Row[];
}
