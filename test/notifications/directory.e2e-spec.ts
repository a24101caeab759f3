import { adminToken, call, parkBody } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { gatewayToken } from '../support/keys';

/** The approver directory's admin API, and parking checked against it. Tenants here start with an empty directory. */
describe('approver directory', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let admin: string;
  let globexAdmin: string;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment({ directory: false });
    api = await env.start();
    admin = await adminToken();
    globexAdmin = await adminToken('globex');
    gateway = await gatewayToken({ tenant: 'acme', sub: 'gateway-1' });
  });
  afterAll(() => env.teardown());

  const put = (path: string, body: unknown, token = admin) => call(api.url, 'PUT', path, { token, body });
  const get = (path: string, token = admin) => call(api.url, 'GET', path, { token });

  describe('admin API', () => {
    it('creates (201), updates (200), reads, lists and deletes approvers', async () => {
      const created = await put('/v1/approvers/bob', { display_name: 'Bob Builder', email: 'bob@acme.example' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: 'bob', display_name: 'Bob Builder', email: 'bob@acme.example' });
      const updated = await put('/v1/approvers/bob', { display_name: 'Robert Builder', email: 'robert@acme.example' });
      expect(updated.status).toBe(200);
      expect((await get('/v1/approvers/bob')).body).toMatchObject({ display_name: 'Robert Builder', email: 'robert@acme.example' });
      expect((await put('/v1/approvers/carol', { display_name: 'Carol' })).status).toBe(201);
      expect((await get('/v1/approvers')).body.approvers.map((a: { id: string }) => a.id)).toEqual(['bob', 'carol']);
      expect((await get('/v1/approvers?limit=1')).body).toMatchObject({ approvers: [{ id: 'bob' }], next_after: 'bob' });
      expect((await get('/v1/approvers?after=bob')).body.approvers.map((a: { id: string }) => a.id)).toEqual(['carol']);
      expect((await call(api.url, 'DELETE', '/v1/approvers/carol', { token: admin })).status).toBe(204);
      expect((await get('/v1/approvers/carol')).status).toBe(404);
      expect((await call(api.url, 'DELETE', '/v1/approvers/carol', { token: admin })).status).toBe(404);
    });

    it.each([
      ['/v1/approvers/dave', {}, 'display_name'],
      ['/v1/approvers/dave', { display_name: '' }, 'display_name'],
      ['/v1/approvers/dave', { display_name: 'Dave', email: 'not-an-email' }, 'email'],
      ['/v1/approvers/dave', { display_name: 'Dave', role: 'admin' }, 'role'],
      ['/v1/approvers/has%20space', { display_name: 'Dave' }, 'id'],
      ['/v1/approver-groups/finance', { members: 'bob' }, 'members'],
      ['/v1/approver-groups/finance', { members: ['nobody'] }, 'members[0]'],
      ['/v1/approver-groups/bad%2Fname', { members: [] }, 'name'],
    ])('PUT %s with %j is a 400 naming %s and writes nothing', async (path, body, field) => {
      const res = await put(path, body);
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
      expect(await sql(env.db.url, `SELECT id FROM approvers WHERE id IN ('dave', 'has space')`)).toEqual([]);
      expect(await sql(env.db.url, `SELECT name FROM approver_groups WHERE name = 'finance'`)).toEqual([]);
    });

    it('groups: created with members, replaced atomically, listed, and deleted; deleting a person removes them from groups', async () => {
      await put('/v1/approvers/dave', { display_name: 'Dave', email: 'dave@acme.example' });
      const created = await put('/v1/approver-groups/finance', { display_name: 'Finance', members: ['bob', 'dave'] });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'finance', display_name: 'Finance', members: ['bob', 'dave'] });
      const bad = await put('/v1/approver-groups/finance', { members: ['bob', 'ghost'] });
      expect(bad.status).toBe(400);
      expect(bad.body.field).toBe('members[1]');
      expect((await get('/v1/approver-groups/finance')).body.members).toEqual(['bob', 'dave']);
      expect((await put('/v1/approver-groups/finance', { members: ['dave'] })).status).toBe(200);
      expect((await get('/v1/approver-groups')).body.groups).toEqual([expect.objectContaining({ name: 'finance', members: ['dave'] })]);
      expect((await call(api.url, 'DELETE', '/v1/approvers/dave', { token: admin })).status).toBe(204);
      expect((await get('/v1/approver-groups/finance')).body.members).toEqual([]);
      expect((await call(api.url, 'DELETE', '/v1/approver-groups/finance', { token: admin })).status).toBe(204);
      expect((await get('/v1/approver-groups/finance')).status).toBe(404);
    });

    it('every change is an audit event naming the admin; refused changes leave none', async () => {
      const events = await sql<{ type: string; actor: string; data: any }>(
        env.db.url,
        `SELECT type, actor, data FROM audit_events WHERE tenant_id = 'acme' AND type LIKE 'directory.%' ORDER BY id`,
      );
      expect(events.map((e) => e.type)).toEqual([
        'directory.approver_created',
        'directory.approver_updated',
        'directory.approver_created',
        'directory.approver_deleted',
        'directory.approver_created',
        'directory.group_created',
        'directory.group_replaced',
        'directory.approver_deleted',
        'directory.group_deleted',
      ]);
      expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['admin:idp']));
      expect(events[6].data).toMatchObject({ group: 'finance', members: ['dave'] });
    });

    it('needs a gateway token with the admin scope, and is scoped to its tenant', async () => {
      expect((await call(api.url, 'GET', '/v1/approvers')).status).toBe(401);
      const noScope = await get('/v1/approvers', gateway);
      expect(noScope.status).toBe(403);
      expect(noScope.body.error).toBe('insufficient_scope');
      expect((await get('/v1/approvers/bob', globexAdmin)).status).toBe(404);
      expect((await get('/v1/approvers', globexAdmin)).body.approvers).toEqual([]);
      expect((await put('/v1/approver-groups/ops', { members: ['bob'] }, globexAdmin)).body.field).toBe('members[0]');
    });
  });

  describe('parking against the directory', () => {
    beforeAll(async () => {
      await put('/v1/approvers/alice', { display_name: 'Alice', email: 'alice@acme.example' });
      await put('/v1/approvers/erin', { display_name: 'Erin', email: 'erin@acme.example' });
      await put('/v1/approver-groups/empty', { members: [] });
      await put('/v1/approver-groups/pair', { members: ['bob', 'erin'] });
    });

    const park = (obligation: Record<string, unknown>, delegator = 'alice') => {
      const body = parkBody({ delegator: { id: delegator } });
      body.obligation = { ...body.obligation, ...obligation };
      return call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
    };

    it.each([
      [{ approvers: ['user:bob', 'user:zed'] }, 'obligation.approvers[1]', /"zed", who is not in the approver directory/],
      [{ approvers: ['group:nobody'] }, 'obligation.approvers[0]', /group "nobody", which does not exist/],
      [{ approvers: ['group:empty'] }, 'obligation.approvers[0]', /group "empty", which has no members/],
      [{ approvers: ['user:bob'], escalate_after: 10, escalate_to: ['user:zed'], expires_in: 60 }, 'obligation.escalate_to[0]', /"zed"/],
      [{ approvers: ['group:pair'], quorum: 3 }, 'obligation.quorum', /only 2 distinct approver\(s\) can vote/],
      [{ approvers: ['group:pair', 'user:bob'], deny_threshold: 3 }, 'obligation.deny_threshold', /only 2 distinct/],
    ])('%j is a 400 naming %s, and nothing is parked', async (obligation, field, message) => {
      const before = await sql(env.db.url, `SELECT count(*)::int AS n FROM approval_requests`);
      const res = await park(obligation);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.field).toBe(field);
      expect(res.body.error_description).toMatch(message);
      expect(await sql(env.db.url, `SELECT count(*)::int AS n FROM approval_requests`)).toEqual(before);
    });

    it('"delegator" must be someone the directory can reach', async () => {
      const res = await park({ approvers: ['delegator'] }, 'zoe');
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('obligation.approvers[0]');
      expect(res.body.error_description).toMatch(/delegator "zoe", who is not in the approver directory/);
      expect((await park({ approvers: ['delegator'] }, 'alice')).status).toBe(200);
    });

    it('parking resolves references as the directory stands: a change on another instance counts at once, though answers are cached', async () => {
      const other = await env.start();
      try {
        const parkOn = (app: TestApp, obligation: Record<string, unknown>) => {
          const body = parkBody({ delegator: { id: 'alice' } });
          body.obligation = { ...body.obligation, ...obligation };
          return call(app.url, 'POST', '/v1/approvals', { token: gateway, body });
        };
        // Whom the initial round is for (this environment has no channel, so it records recipients without deliveries).
        const notified = async (authReqId: string) => {
          const [event] = await sql<{ data: { recipients: { approver: string }[] } }>(
            env.db.url,
            `SELECT data FROM audit_events WHERE approval_id = $1 AND type = 'approval.notified'`,
            [authReqId],
          );
          return event.data.recipients.map((r) => r.approver).sort();
        };
        await put('/v1/approvers/gina', { display_name: 'Gina', email: 'gina@acme.example' });
        await put('/v1/approver-groups/duo', { members: ['erin', 'gina'] });
        // Both instances answer from their cache now.
        const first = await parkOn(other, { approvers: ['group:duo'] });
        expect(first.status).toBe(200);
        expect(await notified(first.body.auth_req_id)).toEqual(['erin', 'gina']);
        expect((await parkOn(other, { approvers: ['user:gina'] })).status).toBe(200);

        // Changed through this instance: the other one no longer notifies or admits what it cached.
        expect((await put('/v1/approver-groups/duo', { members: ['erin', 'bob'] })).status).toBe(200);
        expect((await put('/v1/approvers/gina', { display_name: 'Gina', email: 'gina@acme.example', status: 'disabled' })).status).toBe(200);
        const deadline = Date.now() + 1000;
        const regrouped = await parkOn(other, { approvers: ['group:duo'] });
        expect(regrouped.status).toBe(200);
        expect(await notified(regrouped.body.auth_req_id)).toEqual(['bob', 'erin']);
        const refused = await parkOn(other, { approvers: ['user:gina'] });
        expect(Date.now()).toBeLessThan(deadline);
        expect(refused.status).toBe(400);
        expect(refused.body.error_description).toMatch(/"gina", who is disabled/);
      } finally {
        await other.close();
      }
    });

    it('a group with enough members, people who exist, and escalation to a group all park', async () => {
      expect((await park({ approvers: ['group:pair'], quorum: 2 })).status).toBe(200);
      expect((await park({ approvers: ['user:bob'], quorum: 2, escalate_after: 5, escalate_to: ['group:pair'], expires_in: 60 })).status).toBe(200);
    });
  });
});
