import { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { runPrepared } from './prepared-statements';

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
