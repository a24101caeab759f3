import { EntityManager, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';
import { runPrepared } from './prepared-statements';

/**
 * A condition on a row found by its primary key, written as a filter the planner cannot turn into
 * a way to the row. Without statistics (a new database, or autovacuum off) Postgres rates a
 * tenant-first index as good as the primary key for `id = $1 AND tenant_id = $2`; a prepared
 * statement's generic plan made then keeps reading every row of the tenant to find one, however
 * large the tenant grows (the redeem's request read took 0.6 ms after a few minutes of load).
 */
export const rowFilter = (condition: string): string => `(${condition}) IS TRUE`;

/** The SELECT list of an entity's columns under their property names, built once per entity. */
const selectLists = new WeakMap<object, string>();

/** Which rows of an entity to read: equality on its properties, optionally ordered or locked. */
export interface EntitySelect<T extends ObjectLiteral> {
  entity: EntityTarget<T>;
  where: Partial<Record<keyof T & string, unknown>>;
  options?: { orderBy?: keyof T & string; forUpdate?: boolean };
}

/**
 * The SELECT's text, each value written by `valueSql` (a parameter placeholder, or a literal for a
 * simple query), from TypeORM's metadata: built here because the entity manager's `find` costs
 * twice the CPU of the query itself on the hot paths (a vote, a redeem).
 */
export function selectSql<T extends ObjectLiteral>(
  metadata: EntityMetadata,
  { where, options = {} }: EntitySelect<T>,
  valueSql: (value: unknown) => string,
): string {
  let columns = selectLists.get(metadata);
  if (!columns) {
    columns = metadata.columns.map((c) => `"${c.databaseName}" AS "${c.propertyName}"`).join(', ');
    selectLists.set(metadata, columns);
  }
  const column = (property: string) => {
    const found = metadata.findColumnWithPropertyName(property);
    if (!found) throw new Error(`${metadata.name} has no property ${property}`);
    return `"${found.databaseName}"`;
  };
  const primary = metadata.primaryColumns.map((c) => c.propertyName);
  const byPrimaryKey = primary.every((property) => property in where);
  const conditions = Object.entries(where).map(([property, value]) => {
    // `= NULL` matches nothing: a caller that means "is null" must say so in SQL of its own.
    if (value === null || value === undefined) throw new Error(`${metadata.name}.${property}: no value to select by`);
    const condition = `${column(property)} = ${valueSql(value)}`;
    return byPrimaryKey && !primary.includes(property) ? rowFilter(condition) : condition;
  });
  return (
    `SELECT ${columns} FROM "${metadata.tableName}" WHERE ${conditions.join(' AND ')}` +
    (options.orderBy ? ` ORDER BY ${column(options.orderBy)}` : '') +
    (options.forUpdate ? ' FOR UPDATE' : '')
  );
}

/** Rows selected under their property names, as entities (no column here has a transformer or a `simple-*` type). */
export function asEntities<T extends ObjectLiteral>(metadata: EntityMetadata, rows: Record<string, unknown>[]): T[] {
  return rows.map((row) => Object.assign(metadata.create() as T, row));
}

/** A plain SELECT of one entity's rows by equality on its properties, as a prepared statement. */
export async function selectEntities<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  where: EntitySelect<T>['where'],
  options: EntitySelect<T>['options'] = {},
): Promise<T[]> {
  const metadata = manager.connection.getMetadata(entity);
  const params: unknown[] = [];
  const sql = selectSql(metadata, { entity, where, options }, (value) => `$${params.push(value)}`);
  return asEntities<T>(metadata, await runPrepared<Record<string, unknown>>(manager, sql, params));
}
