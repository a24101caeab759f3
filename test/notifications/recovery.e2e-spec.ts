import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { selfLinked, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, eventually, sql } from '../support/callback-server';
import { addApprovers } from '../support/directory';
import { agentToken, gatewayToken } from '../support/keys';
import { linkIn, notificationSinks, NotificationSinks } from '../support/notifications';

/** Nothing accepted is lost: notification work owed in Postgres is rebuilt when Redis lost it or a process died. */
describe('notifications survive restarts and a Redis that lost its data', () => {
  let env: TestEnvironment;
  let sinks: NotificationSinks;

  beforeAll(async () => {
    env = await testEnvironment();
    sinks = await notificationSinks();
  });
  afterAll(async () => {
    await env.teardown();
    await sinks.close();
  });

  const mailFor = (to: string, id: string) => sinks.mail.waitFor((m) => m.envelope.to.includes(to) && (m.parsed.text ?? '').includes(id));
  /** The request's notification rounds queued so far (their marks), in name order. */
  const rounds = async (id: string) =>
    (await sql<{ round: string }>(env.db.url, `SELECT round FROM notification_rounds WHERE approval_id = $1 ORDER BY round`, [id])).map((r) => r.round);

  it('a request parked while no worker ran and whose jobs Redis then lost is notified when a worker starts', async () => {
    const apiOnly = await env.start({ ...sinks.config, RUN_WORKERS: 'false' });
    const body = parkBody();
    body.obligation = { approvers: ['user:bob'], quorum: 1, escalate_after: 2, escalate_to: ['user:erin'], expires_in: 120 };
    const id = await parkApproval(apiOnly, await tenantToken(), body);
    expect(await env.flushRedis()).toBeGreaterThan(0);

    const links = await selfLinked();
    const worker = await env.start({ ...sinks.config, ...links });
    const bob = await mailFor('bob@acme.example', id);
    expect(linkIn(bob).startsWith(`${links.PUBLIC_URL}/approve/${id}`)).toBe(true);
    // The escalation's delayed job was rebuilt too, still due two seconds after parking.
    await mailFor('erin@acme.example', id);
    expect(await rounds(id)).toEqual(['escalation', 'initial']);
    await worker.close();
    await apiOnly.close();
  });

  it('a delivery committed with the request but never queued (the process died in between) is sent after a restart', async () => {
    const apiOnly = await env.start({ ...sinks.config, RUN_WORKERS: 'false' });
    const body = parkBody();
    body.obligation = { approvers: ['user:carol'], quorum: 1 };
    const parked = await call(apiOnly.url, 'POST', '/v1/approvals', { token: await tenantToken(), body });
    const id = parked.body.auth_req_id;
    // The initial round commits with the request: the delivery is owed from the moment the request exists.
    expect(await sql(env.db.url, `SELECT round, approver_id, channel, status FROM notification_deliveries WHERE approval_id = $1`, [id])).toEqual([
      { round: 'initial', approver_id: 'carol', channel: 'email', status: 'queued' },
    ]);
    expect(await rounds(id)).toEqual(['initial']);
    // What a crash right after the commit looks like: the jobs never reached Redis.
    await env.flushRedis();
    const worker = await env.start({ ...sinks.config, ...(await selfLinked()) });
    await mailFor('carol@acme.example', id);
    await eventually(async () => (await sql(env.db.url, `SELECT status FROM notification_deliveries WHERE approval_id = $1`, [id]))[0]?.status === 'sent');
    const types = (await auditTypes(env.db.url, id)).map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['approval.created', 'approval.notified']);
    expect(types).toContain('approval.notification_sent');
    // The round itself is not redone: one delivery, one email.
    expect(sinks.mail.messages.filter((m) => (m.parsed.text ?? '').includes(id))).toHaveLength(1);
    await worker.close();
    await apiOnly.close();
  });

  it('an escalation and a reminder whose delayed jobs a running service lost to a Redis flush are still sent, without a restart', async () => {
    const links = await selfLinked();
    const app = await env.start({ ...sinks.config, ...links, REDIS_LOSS_CHECK_INTERVAL_MS: '200' });
    const body = parkBody();
    body.obligation = { approvers: ['user:bob'], quorum: 1, escalate_after: 3, escalate_to: ['user:erin'], remind_after: 3, expires_in: 120 };
    const id = await parkApproval(app, await tenantToken(), body);
    await mailFor('bob@acme.example', id);
    // The connection stays up; the escalation and reminder jobs, due in about two seconds, are gone.
    expect(await env.flushRedis()).toBeGreaterThan(0);

    await mailFor('erin@acme.example', id);
    expect(await rounds(id)).toContain('escalation');
    await eventually(async () => (await rounds(id)).includes('reminder'));
    await app.close();
  });

  it('a policy whose approvers nobody can be denies the call with approvers_unavailable instead of parking it', async () => {
    const api = await env.start(sinks.config);
    const admin = await adminToken('initech', 'countersign:delegations countersign:admin');
    const human = 'ivan';
    const agent = 'spiffe://initech.example/agents/payer';
    const granted = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human, agent, tools: ['payments/*'] } });
    expect(granted.status).toBe(201);
    const envelope = {
      agent: { token: await agentToken({ human, actors: [agent], tenant: 'initech' }) },
      action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 25000, currency: 'EUR', iban: 'DE89370400440532013000' } },
      intent: { category: 'pay', text: 'pay the quarterly invoice' },
      resource: { id: 'acct-7', classification: 'confidential' },
      reason: 'Invoice INV-2026-0042 is due today',
    };
    const gateway = await gatewayToken({ tenant: 'initech', sub: 'gateway-1' });
    // The starter policy asks the delegator and group:finance; tenant initech has neither in its directory.
    const denied = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope });
    expect(denied.status).toBe(403);
    expect(denied.body.verdict).toBe('deny');
    expect(denied.body.reasons).toContain('approvers_unavailable');
    expect(denied.body).not.toHaveProperty('auth_req_id');
    expect(await sql(env.db.url, `SELECT 1 FROM approval_requests WHERE tenant_id = 'initech'`)).toEqual([]);
    const [audit] = await sql(env.db.url, `SELECT data FROM audit_events WHERE tenant_id = 'initech' AND type = 'authz.decision' ORDER BY id DESC LIMIT 1`);
    expect(audit.data.approvers_unavailable.field).toMatch(/^obligation\.approver_sets\[0\]\.approvers\[\d\]$/);

    // Once the directory has them, the same call parks and the delegator is notified.
    await addApprovers(env.db.url, 'initech', [human, 'fin-1']);
    await sql(env.db.url, `INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ('initech', 'finance', 'Finance')`);
    await sql(env.db.url, `INSERT INTO approver_group_members (tenant_id, group_name, approver_id) VALUES ('initech', 'finance', 'fin-1')`);
    const parked = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body: envelope });
    expect(parked.status).toBe(202);
    const id = parked.body.auth_req_id;
    await mailFor('ivan@initech.example', id);
    expect(
      (await voteAs(api, { tenantId: 'initech', approvalId: id, approverId: 'fin-1', decision: 'approve', reason: 'ok', viaGroup: 'finance' })).status,
    ).toBe(200);
    await api.close();
  });
});
