import { DataSource } from 'typeorm';
import { AuditEvent } from '../../src/audit/audit-event.entity';
import { insertForEachRowOf, insertStatement } from '../../src/common/database/insert-statement';
import { selectedTogether } from '../../src/common/database/transaction-begun-with';
import { openTestDataSource, TestDataSource } from '../support/database';

/** The statement helpers under the redeem's unlocked path: selects in one round trip, and an insert made only with another statement's row. */
describe('selectedTogether and insertForEachRowOf', () => {
  let test: TestDataSource;
  let ds: DataSource;

  beforeAll(async () => {
    test = await openTestDataSource(2, [AuditEvent]);
    ds = test.ds;
    const { sql, params } = insertStatement(ds, AuditEvent, [
      { tenantId: 'a', type: 'one', data: { n: 1 } },
      { tenantId: 'a', type: 'two', data: { n: 2 } },
      { tenantId: 'b', type: 'three', data: { n: 3 } },
    ]);
    await ds.query(sql, params);
  });
  afterAll(() => test.close());

  it('reads each select as entities, in order, with one select as with several', async () => {
    const [a, b] = await selectedTogether(ds, [
      { entity: AuditEvent, where: { tenantId: 'a' }, options: { orderBy: 'id' as const } },
      { entity: AuditEvent, where: { tenantId: 'b' } },
    ]);
    expect(a.map((e) => [e.type, e.data])).toEqual([
      ['one', { n: 1 }],
      ['two', { n: 2 }],
    ]);
    expect(a[0]).toBeInstanceOf(AuditEvent);
    expect(b.map((e) => e.type)).toEqual(['three']);
    const [only] = await selectedTogether(ds, [{ entity: AuditEvent, where: { tenantId: 'b' } }]);
    expect(only.map((e) => e.type)).toEqual(['three']);
  });

  it('a value with a quote or a NUL is a literal, not SQL: it matches only what equals it (nothing, for a NUL)', async () => {
    const [quoted, nul] = await selectedTogether(ds, [
      { entity: AuditEvent, where: { tenantId: "a' OR '1'='1" } },
      { entity: AuditEvent, where: { tenantId: 'a\u0000' } },
    ]);
    expect(quoted).toEqual([]);
    expect(nul).toEqual([]);
  });

  it('inserts once for each row of its source, and not at all when the source returned none', async () => {
    const insert = insertForEachRowOf(ds, AuditEvent, [{ tenantId: 'c', type: 'made', actor: 'x', data: { ok: true } }], 'src');
    const withSource = (source: string) => ds.query(`WITH src AS (${source}), ins AS (${insert.sql}) SELECT 1`, insert.params);
    await withSource(`SELECT 1 WHERE false`);
    expect(await ds.query(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'c'`)).toEqual([{ n: 0 }]);
    await withSource(`SELECT 1`);
    const rows = await ds.query(`SELECT type, actor, data FROM audit_events WHERE tenant_id = 'c'`);
    expect(rows).toEqual([{ type: 'made', actor: 'x', data: { ok: true } }]);
  });

  it('refuses a row that leaves a column to its default: a conditional insert has none', () => {
    expect(() =>
      insertForEachRowOf(
        ds,
        AuditEvent,
        [
          { tenantId: 'c', type: 'a', actor: 'x', data: {} },
          { tenantId: 'c', type: 'b', data: {} },
        ],
        'src',
      ),
    ).toThrow(/AuditEvent\.actor: a value is needed here/);
  });
});
