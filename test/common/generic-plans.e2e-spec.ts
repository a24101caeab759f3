import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { eventually } from '../support/callback-server';
import { notificationSinks, NotificationSinks } from '../support/notifications';

/** Tables that grow with use: a plan that scans one of them costs more with every request parked. */
const GROWING = ['approval_requests', 'approval_votes', 'notification_deliveries', 'notification_attempts', 'audit_events', 'audit_seals'];

/**
 * The hot statements run as named prepared statements (common/database/prepared-statements.ts),
 * and the service's sessions plan each generically, once (plan_cache_mode, data-source-options.ts). Made while the tables are small and without
 * statistics (a new database, or autovacuum off as on this machine), such a plan once
 * hash-joined a sequential scan of every delivery, and reached one request through the
 * tenant's index (every request of the tenant read to find one): both grew with the data.
 * Every named statement of a park, its e-mail, a vote and a redeem is planned here as Postgres
 * plans it generically, on empty tables with no statistics, and must reach rows by key.
 */
describe('generic plans of the prepared statements', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let sinks: NotificationSinks;
  let spy: jest.SpyInstance;

  /**
   * The named statements sent so far, through the protocol or PREPAREd in SQL for a simple query
   * to EXECUTE (the spy calls through: every query still runs).
   */
  const namedStatements = () =>
    new Map(
      spy.mock.calls.flatMap(([config]): [string, string][] => {
        if (typeof config === 'string') {
          const prepared = /^PREPARE "([^"]+)" AS ([\s\S]+)$/.exec(config);
          return prepared ? [[prepared[1], prepared[2]]] : [];
        }
        const { name, text } = config as { name?: string; text?: string };
        return name && text ? [[name, text]] : [];
      }),
    );

  beforeAll(async () => {
    sinks = await notificationSinks();
    env = await testEnvironment({ directory: true });
    spy = jest.spyOn(Client.prototype, 'query');
    api = await env.start({ ...sinks.config, DATABASE_PREPARED_STATEMENTS: 'true' });
  });
  afterAll(async () => {
    spy.mockRestore();
    await env.teardown();
    await sinks.close();
  });

  it('are the plans the service runs: its sessions plan every named statement generically, and only with them on', async () => {
    const mode = async (app: TestApp) => ((await app.app.get(DataSource).query('SHOW plan_cache_mode')) as { plan_cache_mode: string }[])[0].plan_cache_mode;
    expect(await mode(api)).toBe('force_generic_plan');
    // Behind a transaction pooler (protocol mode), or with no prepared statements, no startup option is sent.
    for (const setting of ['protocol', 'false']) {
      const pooled = await env.start({ ...sinks.config, DATABASE_PREPARED_STATEMENTS: setting });
      try {
        expect(await mode(pooled)).toBe('auto');
      } finally {
        await pooled.close();
      }
    }
  });

  it('reach every row of a growing table by its key, never by a scan or through the tenant', async () => {
    const token = await tenantToken();
    const id = await parkApproval(api, token, parkBody());
    await sinks.mail.waitFor((m) => m.parsed.text?.includes(id) ?? false);
    // The delivery is recorded after the message is accepted.
    await eventually(async () => [...namedStatements().values()].some((text) => text.includes('INSERT INTO "notification_attempts"')));
    const vote = await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' });
    expect(vote.body).toMatchObject({ status: 'approved' });
    expect((await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token })).status).toBe(200);

    const named = namedStatements();
    // A database of the same schema whose tables have never held a row nor been analysed.
    const fresh = await testEnvironment();
    const c = new Client({ connectionString: fresh.db.url });
    await c.connect();
    try {
      await c.query(`SET plan_cache_mode = force_generic_plan`);
      const plans: { text: string; plan: string }[] = [];
      for (const [name, text] of named) {
        await c.query(`PREPARE "${name}" AS ${text}`);
        const [{ parameters }] = (await c.query(`SELECT cardinality(parameter_types) AS parameters FROM pg_prepared_statements WHERE name = $1`, [name]))
          .rows as { parameters: number }[];
        const nulls = Array.from({ length: parameters }, () => 'NULL').join(', ');
        const { rows } = await c.query(`EXPLAIN EXECUTE "${name}"${parameters ? `(${nulls})` : ''}`);
        plans.push({ text, plan: rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n') });
      }
      // What this covers: the park, the delivery's load and record, the vote, the redeem's write, and the reads that a
      // vote and a redeem EXECUTE in their simple queries (the request, its votes, the approver's standing).
      const covering = (fragment: string) => plans.some((p) => p.text.includes(fragment));
      expect(
        [
          'INSERT INTO "approval_requests"',
          'FROM unnest($1::bigint[], $2::text[]) AS k(id, tenant_id)',
          'INSERT INTO "notification_attempts"',
          'INSERT INTO "approval_votes"',
          'UPDATE approval_requests SET token_redeemed_at',
          'FROM "approval_requests" WHERE "id" = $1',
          'FROM "approval_votes" WHERE "approval_id" = $1',
          'FROM "approver_group_members" WHERE',
        ].filter((fragment) => !covering(fragment)),
      ).toEqual([]);
      const scans = plans.filter(({ plan }) => GROWING.some((table) => plan.includes(`Seq Scan on ${table}`)));
      const throughTenant = plans.filter(({ plan }) =>
        /approval_requests_(tenant_created|pending_agent|pending_delegator|delegation|decision_history)/.test(plan),
      );
      expect([...scans, ...throughTenant].map(({ text, plan }) => `${text.slice(0, 120)}\n${plan}`)).toEqual([]);
    } finally {
      await c.end();
      await fresh.teardown();
    }
  });
});
