import { DataSource, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';

export interface Statement {
  sql: string;
  params: unknown[];
}

/** A jsonb value already written as JSON text (e.g. canonicalised for a hash): stored as that text, not serialised again. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A row to insert: the entity's properties, a jsonb one possibly as JsonText. */
export type InsertRow<T> = { [K in keyof T]?: T[K] | JsonText };

/**
 * A plain parameterised INSERT for entity rows, built from TypeORM's metadata. The hot paths
 * (parking a call, appending audit events) use it instead of the entity manager, whose insert
 * costs about as much CPU as the database round trip, and so that several inserts can be
 * combined into one statement (one round trip, atomic without BEGIN/COMMIT).
 * Undefined properties take the column default; jsonb values are serialised here because
 * node-postgres would turn a JS array into a Postgres array literal.
 */
export function insertStatement<T extends ObjectLiteral>(dataSource: DataSource, entity: EntityTarget<T>, rows: InsertRow<T>[], paramOffset = 0): Statement {
  const { names, tuples, params, metadata } = insertValues(dataSource, entity, rows, paramOffset, (_c, placeholder) => placeholder, 'DEFAULT');
  return { sql: `INSERT INTO "${metadata.tableName}" (${names}) VALUES ${tuples}`, params };
}

/**
 * The same INSERT, made once for each row of `source` (an earlier CTE of the same statement, e.g.
 * a conditional UPDATE's RETURNING): none when it returned none. The values are cast to their
 * columns' types, which a VALUES list outside an INSERT does not infer; every value must be given.
 */
export function insertForEachRowOf<T extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
  rows: InsertRow<T>[],
  source: string,
  paramOffset = 0,
): Statement {
  const { names, tuples, params, metadata } = insertValues(dataSource, entity, rows, paramOffset, (c, placeholder) => {
    if (typeof c.type !== 'string') throw new Error(`${c.entityMetadata.name}.${c.propertyName}: no SQL type to cast to`);
    return `${placeholder}::${c.type}${c.isArray ? '[]' : ''}`;
  });
  return { sql: `INSERT INTO "${metadata.tableName}" (${names}) SELECT v.* FROM ${source} CROSS JOIN (VALUES ${tuples}) AS v`, params };
}

/**
 * The column list and the VALUES tuples of entity rows, every value a parameter numbered from
 * `paramOffset + 1` (written by `valueSql`); an undefined property is `absent` (a column default).
 */
function insertValues<T extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
  rows: InsertRow<T>[],
  paramOffset: number,
  valueSql: (column: ColumnMetadata, placeholder: string) => string,
  absent?: string,
): { names: string; tuples: string; params: unknown[]; metadata: EntityMetadata } {
  const metadata = dataSource.getMetadata(entity);
  const columns = metadata.columns.filter((c) => rows.some((r) => r[c.propertyName as keyof T] !== undefined));
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const values = columns.map((c) => {
      const value = row[c.propertyName as keyof T];
      if (value === undefined) {
        if (absent === undefined) throw new Error(`${metadata.name}.${c.propertyName}: a value is needed here (no column default)`);
        return absent;
      }
      params.push(parameterOf(c, value));
      return valueSql(c, `$${paramOffset + params.length}`);
    });
    return `(${values.join(', ')})`;
  });
  return { names: columns.map((c) => `"${c.databaseName}"`).join(', '), tuples: tuples.join(', '), params, metadata };
}

/** A value as node-postgres takes it: jsonb serialised here, since node-postgres would write a JS array as a Postgres array literal. */
function parameterOf(column: { type: unknown }, value: unknown): unknown {
  if (value instanceof JsonText) return value.text;
  return column.type === 'jsonb' && value !== null ? JSON.stringify(value) : value;
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
