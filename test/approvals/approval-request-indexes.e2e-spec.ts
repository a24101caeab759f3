import { DataSource } from 'typeorm';
import { openTestDataSource, TestDataSource, undoMigrationsThrough } from '../support/database';

/**
 * Every index on approval_requests costs each park an entry: the set is the one the service's
 * queries read (migrations/1764250000000 dropped the pending-by-creation index, which only the
 * scheduled reconciliation's old look at recent requests read).
 */
describe('approval_requests indexes', () => {
  let test: TestDataSource;
  let ds: DataSource;

  beforeAll(async () => {
    test = await openTestDataSource(2);
    ds = test.ds;
  });
  afterAll(() => test.close());

  const indexes = async () =>
    ((await ds.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'approval_requests' ORDER BY indexname`)) as { indexname: string }[]).map(
      (r) => r.indexname,
    );

  it('are the ones its queries read, without pending by creation time; going back restores that one', async () => {
    const expected = [
      'approval_requests_callback_pending',
      'approval_requests_decision_history',
      'approval_requests_delegation',
      'approval_requests_pending',
      'approval_requests_pending_agent',
      'approval_requests_pending_delegator',
      'approval_requests_pkey',
      'approval_requests_tenant_created',
    ];
    expect(await indexes()).toEqual(expected);
    await undoMigrationsThrough(ds, 'DropPendingByCreation1764250000000');
    expect(await indexes()).toEqual([...expected, 'approval_requests_pending_created'].sort());
    await ds.runMigrations();
    expect(await indexes()).toEqual(expected);
  });
});
