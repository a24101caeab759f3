import { prepareValue } from 'pg/lib/utils';
import { DataSource, EntityManager, EntityMetadata, ObjectLiteral, QueryRunner } from 'typeorm';
import type { Statement } from './insert-statement';
import { preparedInSession, runPrepared } from './prepared-statements';
import { asEntities, EntitySelect, selectSql } from './select-entities';

/** The rows each select read, as entities, in the order of the selects. */
export type Selected<S extends readonly EntitySelect<ObjectLiteral>[]> = { [K in keyof S]: S[K] extends EntitySelect<infer T> ? T[] : never };

/** The pooled node-postgres client under a TypeORM query runner. */
export interface SimpleQueryClient {
  query(text: string): Promise<{ rows: Record<string, unknown>[] }[]>;
  escapeLiteral(value: string): string;
}

/**
 * Runs `work` in one transaction whose BEGIN goes with its first statements, in one round trip
 * instead of one for the BEGIN and one per statement. That takes a simple query of several
 * statements, which has no parameters: `statements` writes its values with `literal`, which
 * node-postgres escapes (a select EXECUTEs the session's prepared statement with them, see
 * selectStatements). Each statement still runs with its own snapshot (read committed), so a
 * read after a lock sees what was committed before the lock was granted. `work` gets each
 * statement's rows and TypeORM's manager on the same connection, in the transaction (what it
 * saves nests, as in `DataSource.transaction`); the transaction commits when it resolves and
 * rolls back when it throws.
 */
export async function transactionBegunWithStatements<R>(
  dataSource: DataSource,
  statements: (literal: Literal, client: SimpleQueryClient) => string[] | Promise<string[]>,
  work: (rows: Record<string, unknown>[][], tx: EntityManager) => Promise<R>,
): Promise<R> {
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    const sql = ['BEGIN', ...(await statements(literalsOf(client), client))].join('; ');
    // Open from here on: whatever fails below, the connection goes back rolled back.
    markTransactionOpen(runner);
    const [, ...results] = await client.query(sql);
    const outcome = await work(
      results.map((result) => result.rows),
      runner.manager,
    );
    // Unless its last statement committed it already (runAndCommit).
    if (runner.isTransactionActive) await runner.commitTransaction();
    return outcome;
  } catch (e) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw e;
  } finally {
    await runner.release();
  }
}

/** A value written as a literal in a simple query's text. */
type Literal = (value: unknown) => string;

/** A value written as a literal in a simple query's text, escaped by node-postgres. */
function literalsOf(client: SimpleQueryClient): Literal {
  return (value) => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`only a string or a number goes in as a literal, not ${typeof value}`);
    const text = String(value);
    // Postgres stores no NUL, so no row equals a value with one; in the query's text it would end the message.
    return text.includes('\u0000') ? 'NULL' : client.escapeLiteral(text);
  };
}

/**
 * Several selects of entities in one round trip, outside any transaction (each statement reads
 * what was committed when it ran): for a step that looks before it decides whether it must lock.
 */
export async function selectedTogether<S extends readonly EntitySelect<ObjectLiteral>[]>(
  dataSource: DataSource,
  selects: readonly [...S],
): Promise<Selected<S>> {
  const metadata = selects.map((select) => dataSource.getMetadata(select.entity));
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as SimpleQueryClient;
    const statements = await selectStatements(dataSource, client, metadata, selects, literalsOf(client));
    const results = await client.query(statements.join('; '));
    // One statement's result is not wrapped in a list.
    const each = selects.length === 1 ? [results as unknown as { rows: Record<string, unknown>[] }] : results;
    return each.map((result, i) => asEntities(metadata[i], result.rows)) as Selected<S>;
  } finally {
    await runner.release();
  }
}

/** `transactionBegunWithStatements` whose first statements read entities: `work` gets them as entities, in the order of the selects. */
export function transactionBegunWith<S extends readonly EntitySelect<ObjectLiteral>[], R>(
  dataSource: DataSource,
  selects: readonly [...S],
  work: (selected: Selected<S>, tx: EntityManager) => Promise<R>,
): Promise<R> {
  const metadata = selects.map((select) => dataSource.getMetadata(select.entity));
  return transactionBegunWithStatements(
    dataSource,
    (literal, client) => selectStatements(dataSource, client, metadata, selects, literal),
    (rows, tx) => work(rows.map((r, i) => asEntities(metadata[i], r)) as Selected<S>, tx),
  );
}

/**
 * Each select as a statement of a simple query: `EXECUTE` of the session's prepared statement for
 * its text, its values written in as literals; the text with the values written into it when
 * there is no prepared statement to run (preparedInSession).
 */
async function selectStatements(
  dataSource: DataSource,
  client: SimpleQueryClient,
  metadata: EntityMetadata[],
  selects: readonly EntitySelect<ObjectLiteral>[],
  literal: Literal,
): Promise<string[]> {
  const statements: string[] = [];
  // One after the other: a connection runs one query at a time (node-postgres deprecates queueing them).
  for (const [i, select] of selects.entries()) {
    const values: unknown[] = [];
    const name = await preparedInSession(
      dataSource,
      client,
      selectSql(metadata[i], select, (value) => `$${values.push(value)}`),
    );
    statements.push(name ? `EXECUTE ${name}(${values.map(literal).join(', ')})` : selectSql(metadata[i], select, literal));
  }
  return statements;
}

/** TypeORM's own state after `startTransaction`, whose BEGIN went with the reads instead. */
function markTransactionOpen(runner: QueryRunner): void {
  Object.assign(runner, { isTransactionActive: true, transactionDepth: 1 });
}

/**
 * Runs `text` as the last statement of a transaction that transactionBegunWith… began, and
 * commits with it: one simple query, `EXECUTE` of the session's prepared statement with the values
 * written in as literals, then `COMMIT`, in one round trip instead of two. A vote's three round
 * trips become two. The values are the ones node-postgres would have sent (prepareValue), so the
 * prepared statement's parameters take them as they would through the protocol. When the
 * statement fails, Postgres runs nothing after it in that query: the COMMIT does not happen and
 * the transaction rolls back as before. Where the session holds no prepared statement for the
 * text (prepared statements not in `session` mode, the names used up), or a value has a NUL (which
 * Postgres refuses in a parameter, and would end the query's text), it runs as runPrepared and the
 * transaction commits after the work, as it would have.
 */
export async function runAndCommit<Row>(tx: EntityManager, text: string, values: unknown[]): Promise<Row[]> {
  const runner = tx.queryRunner;
  if (!runner?.isTransactionActive) throw new Error('runAndCommit runs the last statement of an open transaction');
  const client = (await runner.connect()) as SimpleQueryClient;
  const execute = await executeStatement(tx.connection, client, { sql: text, params: values });
  if (!execute) return runPrepared<Row>(tx, text, values);
  const [result] = await client.query(`${execute}; COMMIT`);
  Object.assign(runner, { isTransactionActive: false, transactionDepth: 0 });
  return result.rows as Row[];
}

/** The statement as an `EXECUTE` of the session's prepared statement with its values written in; undefined where that cannot be (runAndCommit). */
export async function executeStatement(dataSource: DataSource, client: SimpleQueryClient, { sql, params }: Statement): Promise<string | undefined> {
  const args = params.map((value) => parameterLiteral(client, prepareValue(value)));
  if (args.includes(undefined)) return undefined;
  const name = await preparedInSession(dataSource, client, sql);
  return name && `EXECUTE ${name}(${args.join(', ')})`;
}

/** A parameter's text as a literal; undefined for one with a NUL. */
function parameterLiteral(client: SimpleQueryClient, value: string | Buffer | null): string | undefined {
  if (value === null) return 'NULL';
  if (Buffer.isBuffer(value)) return `'\\x${value.toString('hex')}'`;
  return value.includes('\u0000') ? undefined : client.escapeLiteral(value);
}
