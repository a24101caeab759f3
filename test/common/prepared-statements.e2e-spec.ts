import { DataSource } from 'typeorm';
import { ApprovalRequest } from '../../src/approvals/approval-request.entity';
import { dataSourceOptions } from '../../src/common/database/data-source-options';
import { selectEntities } from '../../src/common/database/select-entities';
import { runPrepared, usePreparedStatements } from '../../src/common/database/prepared-statements';
import type { PreparedStatements } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase } from '../support/database';

/** The hot statements run as named prepared statements, in the caller's transaction, and not at all when turned off. */
describe('prepared statements', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({ ...dataSourceOptions(db.url, 2), entities: [ApprovalRequest] }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  /** The session's prepared statements whose text contains `marker`, seen from inside the transaction that ran it. */
  const preparedIn = async (mode: PreparedStatements, marker: string) => {
    usePreparedStatements(dataSource, mode);
    return dataSource.transaction(async (tx) => {
      const [row] = await runPrepared<{ n: number }>(tx, `SELECT $1::int + 1 AS n /* ${marker} */`, [41]);
      expect(row.n).toBe(42);
      const named: { name: string }[] = await tx.query(`SELECT name FROM pg_prepared_statements WHERE statement LIKE $1`, [`%${marker}%`]);
      return named.map((r) => r.name);
    });
  };

  it('runs as a named statement on the transaction’s own connection, its name the text’s hash', async () => {
    const names = await preparedIn('session', 'marker-on');
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^cs_[A-Za-z0-9_-]{24}$/);
  });

  it('runs named in protocol mode too (DATABASE_PREPARED_STATEMENTS=protocol, what PgBouncer 1.21+ keeps)', async () => {
    const names = await preparedIn('protocol', 'marker-protocol');
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^cs_[A-Za-z0-9_-]{24}$/);
  });

  it('runs unnamed when turned off (DATABASE_PREPARED_STATEMENTS=false)', async () => {
    expect(await preparedIn('off', 'marker-off')).toEqual([]);
  });

  it('plans a named statement generically on the service’s sessions, once, instead of for every call’s values', async () => {
    const generic = await new DataSource({ ...dataSourceOptions(db.url, 1, 10_000, { generic: true }), entities: [ApprovalRequest] }).initialize();
    usePreparedStatements(generic, 'session');
    usePreparedStatements(dataSource, 'session');
    /** How the session planned the statement marked `marker` after running it three times in one transaction. */
    const plannedOn = (ds: DataSource, marker: string) =>
      ds.transaction(async (tx) => {
        for (const n of [1, 2, 3]) await runPrepared(tx, `SELECT id FROM approval_requests WHERE id = $1 /* ${marker} */`, [`p-${n}`]);
        const [row]: { generic_plans: string; custom_plans: string }[] = await tx.query(
          `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE $1`,
          [`%${marker}%`],
        );
        return { generic: Number(row.generic_plans), custom: Number(row.custom_plans) };
      });
    try {
      expect(await plannedOn(generic, 'plans-generic')).toEqual({ generic: 3, custom: 0 });
      // Postgres's default (the migrate CLI's and the tests' sessions): a custom plan for each of the first calls at least.
      expect(await plannedOn(dataSource, 'plans-default')).toEqual({ generic: 0, custom: 3 });
    } finally {
      await generic.destroy();
    }
  });

  it('reads entities through it, inside and outside a transaction, with the same rows either way', async () => {
    usePreparedStatements(dataSource, 'session');
    await dataSource.query(
      `INSERT INTO approval_requests (id, tenant_id, status, gateway_id, tool_call, call_hash, agent, agent_id, delegator_id, reason, approvers, quorum,
                                      deny_threshold, delivery_mode, callback_state, poll_interval, expires_at, approver_sets)
       VALUES ('prep-1', 'acme', 'pending', 'gw', '{}', 'h', '{}', 'agent-1', 'alice', 'why', '[]', 1, 1, 'poll', 'none', 5, now() + interval '1 hour', '[]')`,
    );
    const outside = await selectEntities(dataSource.manager, ApprovalRequest, { id: 'prep-1', tenantId: 'acme' });
    const inside = await dataSource.transaction((tx) => selectEntities(tx, ApprovalRequest, { id: 'prep-1', tenantId: 'acme' }, { forUpdate: true }));
    expect(outside).toHaveLength(1);
    expect(outside[0]).toBeInstanceOf(ApprovalRequest);
    expect(outside[0]).toMatchObject({ id: 'prep-1', tenantId: 'acme', agentId: 'agent-1', quorum: 1, approverSets: [] });
    expect(outside[0].expiresAt).toBeInstanceOf(Date);
    expect(inside).toEqual(outside);
    expect(await selectEntities(dataSource.manager, ApprovalRequest, { id: 'prep-1', tenantId: 'globex' })).toEqual([]);
  });
});
