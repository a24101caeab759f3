import { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { runPrepared } from './prepared-statements';

export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * A plain parameterised INSERT for entity rows, built from TypeORM's metadata. The hot paths
 * (parking a call, appending audit events) use it instead of the entity manager, whose insert
 * costs about as much CPU as the database round trip, and so that several inserts can be
 * combined into one statement (one round trip, atomic without BEGIN/COMMIT).
 * Undefined properties take the column default; jsonb values are serialised here because
 * node-postgres would turn a JS array into a Postgres array literal.
 */
export function insertStatement<T extends ObjectLiteral>(dataSource: DataSource, entity: EntityTarget<T>, rows: Partial<T>[], paramOffset = 0): Statement {
  const metadata = dataSource.getMetadata(entity);
  const columns = metadata.columns.filter((c) => rows.some((r) => r[c.propertyName as keyof T] !== undefined));
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const values = columns.map((c) => {
      const value = row[c.propertyName as keyof T];
      if (value === undefined) return 'DEFAULT';
      params.push(c.type === 'jsonb' && value !== null ? JSON.stringify(value) : value);
      return `$${paramOffset + params.length}`;
    });
    return `(${values.join(', ')})`;
  });
  const names = columns.map((c) => `"${c.databaseName}"`).join(', ');
  return { sql: `INSERT INTO "${metadata.tableName}" (${names}) VALUES ${tuples.join(', ')}`, params };
}

/**
 * An entity from a row that a raw query returned as JSON (`row_to_json(t)`): for hot paths that
 * load an entity and its related rows in one query. Timestamps come back as strings and become Dates.
 */
export function entityFromJson<T extends ObjectLiteral>(dataSource: DataSource, entity: EntityTarget<T>, json: Record<string, unknown>): T {
  const metadata = dataSource.getMetadata(entity);
  const out: Record<string, unknown> = {};
  for (const c of metadata.columns) {
    const value = json[c.databaseName];
    out[c.propertyName] = value !== null && value !== undefined && (c.type === 'timestamptz' || c.type === Date) ? new Date(value as string) : value;
  }
  return Object.assign(metadata.create() as T, out);
}

/**
 * Statements written as one: each part becomes a data-modifying CTE (Postgres runs every one of
 * them exactly once, whether or not the result reads it), numbered after the parameters before
 * it. One round trip, and atomic without BEGIN/COMMIT. `select` is the final query (a CTE's
 * RETURNING can be read there by its name, `c0`, `c1`, … in the order of the parts).
 */
export function combinedStatement(parts: ((paramOffset: number) => Statement)[], select = 'SELECT 1'): Statement {
  const params: unknown[] = [];
  const ctes = parts.map((part, i) => {
    const { sql, params: own } = part(params.length);
    params.push(...own);
    return `c${i} AS (${sql})`;
  });
  return { sql: `WITH ${ctes.join(', ')} ${select}`, params };
}

/** The SELECT list of an entity's columns under their property names, built once per entity. */
const selectLists = new WeakMap<object, string>();

/**
 * A plain SELECT of one entity's rows by equality on its properties, built from TypeORM's
 * metadata: for the hot paths (a vote, a redeem), where the entity manager's `find` costs twice
 * the CPU of the query itself (its query builder runs on every call). Rows come back under the
 * property names, as the entity (no column here has a transformer or a `simple-*` type).
 */
export async function selectEntities<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  where: Partial<Record<keyof T & string, unknown>>,
  options: { orderBy?: keyof T & string; forUpdate?: boolean } = {},
): Promise<T[]> {
  const metadata = manager.connection.getMetadata(entity);
  let columns = selectLists.get(metadata);
  if (!columns) {
    columns = metadata.columns.map((c) => `"${c.databaseName}" AS "${c.propertyName}"`).join(', ');
    selectLists.set(metadata, columns);
  }
  const params: unknown[] = [];
  const column = (property: string) => {
    const found = metadata.findColumnWithPropertyName(property);
    if (!found) throw new Error(`${metadata.name} has no property ${property}`);
    return `"${found.databaseName}"`;
  };
  const conditions = Object.entries(where).map(([property, value]) => {
    // `= NULL` matches nothing: a caller that means "is null" must say so in SQL of its own.
    if (value === null || value === undefined) throw new Error(`${metadata.name}.${property}: no value to select by`);
    return `${column(property)} = $${params.push(value)}`;
  });
  const sql =
    `SELECT ${columns} FROM "${metadata.tableName}" WHERE ${conditions.join(' AND ')}` +
    (options.orderBy ? ` ORDER BY ${column(options.orderBy)}` : '') +
    (options.forUpdate ? ' FOR UPDATE' : '');
  const rows = await runPrepared<Record<string, unknown>>(manager, sql, params);
  return rows.map((row) => Object.assign(metadata.create() as T, row));
}
