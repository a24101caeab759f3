/**
 * The resource, typed, end to end over real HTTP, Postgres and Redis (two instances): a tenant
 * declares resource types (Cedar entity types of its schema) and registers resources of them;
 * policies read a registered resource as `context.<Type>` (classification, environment, owner,
 * declared attributes); publishing validates against those types; a type change the active set
 * would not survive is refused; a resource change reaches the second instance within a second;
 * AuthZEN's resource {type, id} finds the same resource.
 *
 * The tests run in order and build on each other's state.
 */
import { randomUUID } from 'node:crypto';
import { adminToken, ApiResponse, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { until } from '../support/until';

const DOCUMENT = { attributes: { department: { type: 'string' }, pages: { type: 'long', optional: true }, tags: { type: 'set<string>', optional: true } } };
const BANK_ACCOUNT = { attributes: { daily_limit: { type: 'decimal' }, currency: { type: 'string' } } };

const POLICIES = {
  granted: 'permit (principal, action == Action::"call_tool", resource) when { context.granted };',
  'owner-only-confidential': `@reason("not_the_owner")
forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document.classification == "confidential" }
unless { context.Document.owner == context.user };`,
  'hr-docs-for-hr': `@reason("hr_docs_for_hr")
forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document.department == "hr" }
unless { context.user in Group::"hr" || context.Document.owner == context.user };`,
  'no-prod-frozen-writes': `@reason("frozen")
forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document.environment == "production" && context.Document has tags && context.Document.tags.contains("frozen") && context.action_category == "write" };`,
  'big-accounts': `@reason("big_account")
forbid (principal, action == Action::"call_tool", resource)
when { context has BankAccount && context.BankAccount.daily_limit.greaterThan(decimal("10000.00")) && context.BankAccount.currency == "EUR" };`,
};

describe('the resource, typed: declared types, registered resources, policies on their attributes', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let gateway: string;
  const tokens: Record<string, string> = {};
  const propagation: Record<string, number> = {};

  const putType = (name: string, body: unknown, app = a, token = admin) => call(app.url, 'PUT', `/v1/resource-types/${name}`, { token, body });
  const putResource = (id: string, body: unknown, app = a, token = admin) => call(app.url, 'PUT', `/v1/resources/${encodeURIComponent(id)}`, { token, body });
  const publish = (policies: Record<string, string>, activate = true) => call(a.url, 'POST', '/v1/policies', { token: admin, body: { policies, activate } });
  const envelope = (human: string, tool: string, resource: Record<string, unknown>, category = 'read') => ({
    agent: { token: tokens[human] },
    action: { server: 'docs', tool, arguments: {} },
    intent: { category },
    resource,
    reason: 'the quarterly review',
    correlation: { mcp_session_id: `sess-${randomUUID()}` },
  });
  const authorize = (human: string, resource: Record<string, unknown>, { app = a, tool = 'read_document', category = 'read', token = gateway } = {}) =>
    call(app.url, 'POST', '/v1/authorize', { token, body: envelope(human, tool, resource, category) });
  const decision = (r: ApiResponse) => ({ status: r.status, verdict: r.body?.verdict, reasons: r.body?.reasons });

  beforeAll(async () => {
    env = await testEnvironment();
    [a, b] = await Promise.all([env.start(), env.start()]);
    admin = await adminToken();
    gateway = await tenantToken('acme', 'gateway-1');
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    for (const human of ['alice', 'bob', 'carol']) {
      const res = await call(a.url, 'POST', '/v1/delegations', { token: delegations, body: { human, agent: 'doc-agent', tools: ['docs/*', 'banking/*'] } });
      expect(res.status).toBe(201);
      tokens[human] = await agentToken({ human, actors: ['doc-agent'] });
    }
    expect((await call(a.url, 'PUT', '/v1/approvers/carol', { token: admin, body: { display_name: 'Carol' } })).status).toBeLessThan(300);
    expect((await call(a.url, 'PUT', '/v1/approver-groups/hr', { token: admin, body: { members: ['carol'] } })).status).toBe(201);
  });
  afterAll(async () => {
    console.log(`resource change propagation to instance B (ms): ${JSON.stringify(propagation)}`);
    await env.teardown();
  });

  it('PUT /v1/resource-types/:name declares a type (201) with the Cedar shape policies see, replaces it (200), and audits both', async () => {
    const declared = await putType('Document', { attributes: { department: { type: 'string' } } });
    expect(declared.status).toBe(201);
    expect(declared.body).toMatchObject({
      name: 'Document',
      context_member: 'Document',
      revision: 1,
      cedar_shape: {
        type: 'Record',
        attributes: {
          classification: { type: 'String' },
          environment: { type: 'String' },
          owner: { type: 'Entity', name: 'User' },
          department: { type: 'String' },
        },
      },
    });
    const replaced = await putType('Document', DOCUMENT);
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      revision: 2,
      attributes: { pages: { type: 'long', optional: true }, department: { type: 'string', optional: false } },
    });
    expect((await putType('BankAccount', BANK_ACCOUNT)).status).toBe(201);
    const list = await call(a.url, 'GET', '/v1/resource-types', { token: admin });
    expect(list.body.types.map((t: { name: string }) => t.name)).toEqual(['BankAccount', 'Document']);
    expect((await call(a.url, 'GET', '/v1/resource-types/Document', { token: admin })).body.cedar_shape.attributes.pages).toEqual({
      type: 'Long',
      required: false,
    });
    expect((await call(a.url, 'GET', '/v1/resource-types/Calendar', { token: admin })).status).toBe(404);
    // The types are part of the tenant's schema: the catalogue's revision moved with them.
    expect((await call(a.url, 'GET', '/v1/catalogue', { token: admin })).body.revision).toBe(3);
    const events = await sql(env.db.url, `SELECT type, actor, data FROM audit_events WHERE type LIKE 'resource_type.%' AND tenant_id = 'acme' ORDER BY id`);
    expect(events.map((e: { type: string }) => e.type)).toEqual(['resource_type.declared', 'resource_type.replaced', 'resource_type.declared']);
    expect(events[1]).toMatchObject({ actor: 'admin:idp', data: { name: 'Document', revision: 2, attributes: { pages: { type: 'long', optional: true } } } });
  });

  it.each([
    ['a lower-case type name', 'document', DOCUMENT, 'name'],
    ['a base entity type', 'User', DOCUMENT, 'name'],
    ['a Cedar type name', 'String', DOCUMENT, 'name'],
    ['a name a gateway could not tell from Document', 'DOCUMENT', DOCUMENT, 'name'],
    ['an unknown attribute type', 'Ticket', { attributes: { due: { type: 'date' } } }, 'attributes.due.type'],
    ['an attribute every resource has already', 'Ticket', { attributes: { owner: { type: 'string' } } }, 'attributes.owner'],
    ['a Cedar keyword as an attribute', 'Ticket', { attributes: { in: { type: 'string' } } }, 'attributes.in'],
    ['an upper-case attribute name', 'Ticket', { attributes: { Due: { type: 'string' } } }, 'attributes.Due'],
    ['an unknown member of a declaration', 'Ticket', { attributes: { due: { type: 'string', required: true } } }, 'attributes.due.required'],
  ])('refuses %s with a 400 naming the field, and declares nothing', async (_, name, body, field) => {
    const res = await putType(name, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field });
    expect((await call(a.url, 'GET', '/v1/resource-types', { token: admin })).body.types).toHaveLength(2);
  });

  it('PUT /v1/resources/:id registers a resource of a declared type (201), replaces it (200), and audits both', async () => {
    const doc = { type: 'Document', classification: 'confidential', owner: 'alice', attributes: { department: 'hr', pages: 12 } };
    const res = await putResource('doc-1', doc);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'doc-1',
      type: 'Document',
      classification: 'confidential',
      environment: 'production',
      owner: 'alice',
      attributes: { department: 'hr', pages: 12 },
    });
    expect((await putResource('doc-1', { ...doc, attributes: { department: 'hr' } })).status).toBe(200);
    expect((await putResource('doc-2', { type: 'Document', classification: 'internal', owner: 'alice', attributes: { department: 'hr' } })).status).toBe(201);
    expect(
      (await putResource('doc-3', { type: 'Document', classification: 'internal', owner: 'alice', attributes: { department: 'sales', tags: ['q3'] } })).status,
    ).toBe(201);
    expect(
      (
        await putResource('acct/7', {
          type: 'BankAccount',
          classification: 'confidential',
          owner: 'bob',
          attributes: { daily_limit: 25000.5, currency: 'EUR' },
        })
      ).status,
    ).toBe(201);
    expect((await putResource('acct-8', { type: 'BankAccount', owner: 'bob', attributes: { daily_limit: 500, currency: 'EUR' } })).status).toBe(201);
    expect((await call(a.url, 'GET', `/v1/resources/${encodeURIComponent('acct/7')}`, { token: admin })).body).toMatchObject({
      id: 'acct/7',
      attributes: { daily_limit: 25000.5 },
    });
    const page = await call(a.url, 'GET', '/v1/resources?type=Document&limit=2', { token: admin });
    expect(page.body).toMatchObject({ resources: [{ id: 'doc-1' }, { id: 'doc-2' }], next_after: 'doc-2' });
    expect((await call(a.url, 'GET', '/v1/resources?type=Document&after=doc-2', { token: admin })).body).toMatchObject({
      resources: [{ id: 'doc-3' }],
      next_after: null,
    });
    const events = await sql(env.db.url, `SELECT type, data FROM audit_events WHERE type LIKE 'resource.%' AND data->>'id' = 'doc-1' ORDER BY id`);
    expect(events).toEqual([
      {
        type: 'resource.registered',
        data: {
          id: 'doc-1',
          type: 'Document',
          classification: 'confidential',
          environment: 'production',
          owner: 'alice',
          attributes: { department: 'hr', pages: 12 },
        },
      },
      {
        type: 'resource.updated',
        data: { id: 'doc-1', type: 'Document', classification: 'confidential', environment: 'production', owner: 'alice', attributes: { department: 'hr' } },
      },
    ]);
  });

  it.each([
    ['a type nobody declared', { type: 'Calendar', owner: 'alice' }, 'type'],
    ['a missing required attribute', { type: 'Document', owner: 'alice', attributes: {} }, 'attributes.department'],
    ['an attribute the type does not declare', { type: 'Document', owner: 'alice', attributes: { department: 'x', budget: 3 } }, 'attributes.budget'],
    ['a long that is not an integer', { type: 'Document', owner: 'alice', attributes: { department: 'x', pages: 2.5 } }, 'attributes.pages'],
    ['a set with a number in it', { type: 'Document', owner: 'alice', attributes: { department: 'x', tags: ['a', 3] } }, 'attributes.tags.1'],
    ['a decimal with five places', { type: 'BankAccount', owner: 'bob', attributes: { daily_limit: 1.00001, currency: 'EUR' } }, 'attributes.daily_limit'],
    ['an unknown classification', { type: 'Document', owner: 'alice', classification: 'secret', attributes: { department: 'x' } }, 'classification'],
    ['no owner', { type: 'Document', attributes: { department: 'x' } }, 'owner'],
  ])('refuses a resource with %s: a 400 naming the member, nothing written', async (_, body, field) => {
    const res = await putResource('doc-bad', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field });
    expect((await call(a.url, 'GET', '/v1/resources/doc-bad', { token: admin })).status).toBe(404);
  });

  it('refuses at publish a policy on an attribute the type does not declare, an optional one read without `has`, or a type nobody declared', async () => {
    const bad = {
      budget: 'forbid (principal, action == Action::"call_tool", resource) when { context has Document && context.Document.budget > 3 };',
      pages: 'forbid (principal, action == Action::"call_tool", resource) when { context has Document && context.Document.pages > 3 };',
      nohas: 'forbid (principal, action == Action::"call_tool", resource) when { context.Document.department == "hr" };',
      calendar: 'forbid (principal, action == Action::"call_tool", resource) when { context has Calendar && context.Calendar.owner == context.user };',
    };
    for (const [id, text] of Object.entries(bad)) {
      const res = await publish({ granted: POLICIES.granted, [id]: text });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_policy');
      expect(res.body.errors[0]).toMatch(new RegExp(`^${id}: `));
    }
    expect(JSON.stringify((await publish({ granted: POLICIES.granted, budget: bad.budget })).body.errors)).toMatch(/budget/);
    expect((await call(a.url, 'GET', '/v1/policies', { token: admin })).body.active_version).toBe(0);
  });

  it('policies read the registered resource: owner, classification and attributes decide, with permit and forbid, on either instance', async () => {
    const published = await publish(POLICIES);
    expect(published.status).toBe(201);
    for (const app of [a, b]) {
      // doc-1: confidential HR document owned by alice.
      expect(decision(await authorize('alice', { id: 'doc-1' }, { app }))).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });
      expect(decision(await authorize('bob', { id: 'doc-1' }, { app }))).toEqual({
        status: 403,
        verdict: 'deny',
        reasons: ['hr_docs_for_hr', 'not_the_owner'],
      });
      // carol is in HR, but doc-1 is confidential and hers is not the ownership.
      expect(decision(await authorize('carol', { id: 'doc-1' }, { app }))).toEqual({ status: 403, verdict: 'deny', reasons: ['not_the_owner'] });
      // doc-2: internal HR document: HR reads it, others do not.
      expect(decision(await authorize('carol', { id: 'doc-2' }, { app }))).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });
      expect(decision(await authorize('bob', { id: 'doc-2' }, { app }))).toEqual({ status: 403, verdict: 'deny', reasons: ['hr_docs_for_hr'] });
      // doc-3: internal sales document: anyone delegated.
      expect(decision(await authorize('bob', { id: 'doc-3' }, { app }))).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });
    }
    // A decimal attribute, compared with Cedar's decimal methods.
    expect(decision(await authorize('bob', { id: 'acct/7' }, { tool: 'read_account' }))).toEqual({ status: 403, verdict: 'deny', reasons: ['big_account'] });
    expect(decision(await authorize('bob', { id: 'acct-8' }, { tool: 'read_account' }))).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });
  });

  it("the registry is the tenant's word: its classification, environment and type replace the envelope's, and the audit shows what was read", async () => {
    const res = await call(a.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: envelope('bob', 'read_document', { id: 'doc-1', classification: 'public' }),
    });
    expect(res.status).toBe(200);
    expect(res.body.facts).toMatchObject({
      resource_id: 'doc-1',
      resource_type: 'Document',
      resource_classification: 'confidential',
      environment: 'production',
      resource: { type: 'Document', id: 'doc-1', owner: 'alice', owner_user: { status: 'active' }, attributes: { department: 'hr' } },
    });
    const denied = await authorize('bob', { id: 'doc-1', type: 'document', classification: 'public' });
    expect(denied.body.reasons).toEqual(['hr_docs_for_hr', 'not_the_owner']);
    const [row] = await sql(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [denied.body.decision_id]);
    expect(row.data.input.resource).toEqual({ id: 'doc-1', type: 'document', classification: 'public' });
    expect(row.data.facts).toMatchObject({ resource_classification: 'confidential', resource: { id: 'doc-1', classification: 'confidential' } });
  });

  it('a resource.type that contradicts the registered type is a 400 naming it; a gateway type matches ignoring case and "_"', async () => {
    const res = await authorize('alice', { id: 'doc-1', type: 'BankAccount' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field: 'resource.type' });
    expect(res.body.error_description).toContain('"Document"');
    expect((await authorize('bob', { id: 'acct/7', type: 'bank_account' }, { tool: 'read_account' })).body.reasons).toEqual(['big_account']);
  });

  it('an unregistered resource id keeps the envelope facts only: no resource entity, the policies about one do not apply', async () => {
    expect(decision(await authorize('bob', { id: 'doc-unknown', type: 'Document', classification: 'confidential' }))).toEqual({
      status: 200,
      verdict: 'allow',
      reasons: ['granted'],
    });
    const sim = await call(a.url, 'POST', '/v1/authorize/simulate', {
      token: admin,
      body: envelope('bob', 'read_document', { id: 'doc-unknown', type: 'Document', classification: 'confidential' }),
    });
    expect(sim.body.facts).toMatchObject({ resource_id: 'doc-unknown', resource_type: 'Document', resource_classification: 'confidential' });
    expect(sim.body.facts).not.toHaveProperty('resource');
  });

  it("AuthZEN's resource {type, id} finds the same registered resource and its attributes", async () => {
    const evaluate = (human: string, resource: Record<string, unknown>) =>
      call(a.url, 'POST', '/access/v1/evaluation', {
        token: gateway,
        body: {
          subject: { type: 'agent', id: 'doc-agent', properties: { token: tokens[human] } },
          action: { name: 'read_account', properties: { server: 'docs' } },
          resource,
          context: { intent: { category: 'read' }, reason: 'reconciliation', correlation: { mcp_session_id: `az-${randomUUID()}` } },
        },
      });
    const big = await evaluate('bob', { type: 'BankAccount', id: 'acct/7' });
    expect(big.status).toBe(200);
    expect(big.body).toMatchObject({ decision: false, context: { reasons: ['big_account'] } });
    expect((await evaluate('bob', { type: 'bank_account', id: 'acct-8' })).body).toEqual({ decision: true });
    const owner = await evaluate('bob', { type: 'Document', id: 'doc-1', properties: { classification: 'public' } });
    expect(owner.body).toMatchObject({ decision: false, context: { reasons: ['hr_docs_for_hr', 'not_the_owner'] } });
    const contradicting = await evaluate('bob', { type: 'Calendar', id: 'doc-1' });
    expect(contradicting).toMatchObject({ status: 400, body: { error: 'invalid_request', field: 'resource.type' } });
  });

  it('a type change the active set would not validate against is refused with the validator messages, and changes nothing', async () => {
    const revision = (await call(a.url, 'GET', '/v1/catalogue', { token: admin })).body.revision;
    // Optional, department still holds for every registered document, but hr-docs-for-hr reads it without `has`.
    const res = await putType('Document', { attributes: { ...DOCUMENT.attributes, department: { type: 'string', optional: true } } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_policy', field: 'attributes', version: 1 });
    expect(res.body.errors.join('\n')).toMatch(/^hr-docs-for-hr: .*department/m);
    // The same for the decimal that big-accounts compares with `.greaterThan(decimal(…))`.
    const retyped = await putType('BankAccount', { attributes: { ...BANK_ACCOUNT.attributes, daily_limit: { type: 'decimal', optional: true } } });
    expect(retyped.body).toMatchObject({ error: 'invalid_policy', field: 'attributes' });
    expect(retyped.body.errors.join('\n')).toMatch(/^big-accounts: .*daily_limit/m);
    // Removed, it is refused too (registered documents have it; the first refusal names the attribute).
    const { department: _, ...withoutDepartment } = DOCUMENT.attributes;
    expect((await putType('Document', { attributes: withoutDepartment })).body).toMatchObject({ error: 'invalid_request', field: 'attributes.department' });
    expect((await call(a.url, 'GET', '/v1/catalogue', { token: admin })).body.revision).toBe(revision);
    expect((await call(a.url, 'GET', '/v1/resource-types/Document', { token: admin })).body.attributes.department).toEqual({ type: 'string', optional: false });
    expect((await authorize('bob', { id: 'doc-2' })).body.reasons).toEqual(['hr_docs_for_hr']);
  });

  it('a declaration that a registered resource would not satisfy is refused naming the attribute and the resource', async () => {
    const res = await putType('Document', { attributes: { ...DOCUMENT.attributes, region: { type: 'string' } } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field: 'attributes.region' });
    expect(res.body.error_description).toContain('"doc-1"');
    // Optional, it is fine: existing resources simply lack it.
    expect((await putType('Document', { attributes: { ...DOCUMENT.attributes, region: { type: 'string', optional: true } } })).status).toBe(200);
  });

  it('deleting a type: refused while resources of it are registered (409) or while the active set reads it (400), else 204', async () => {
    const inUse = await call(a.url, 'DELETE', '/v1/resource-types/BankAccount', { token: admin });
    expect(inUse).toMatchObject({ status: 409, body: { error: 'resource_type_in_use' } });
    for (const id of ['acct/7', 'acct-8']) expect((await call(a.url, 'DELETE', `/v1/resources/${encodeURIComponent(id)}`, { token: admin })).status).toBe(204);
    expect((await call(a.url, 'DELETE', '/v1/resources/acct-8', { token: admin })).status).toBe(404);
    const read = await call(a.url, 'DELETE', '/v1/resource-types/BankAccount', { token: admin });
    expect(read).toMatchObject({ status: 400, body: { error: 'invalid_policy', field: 'name' } });
    expect(read.body.errors.join('\n')).toMatch(/^big-accounts: /m);
    expect((await putType('Ticket', { attributes: {} })).status).toBe(201);
    expect((await call(a.url, 'DELETE', '/v1/resource-types/Ticket', { token: admin })).status).toBe(204);
    expect((await call(a.url, 'DELETE', '/v1/resource-types/Ticket', { token: admin })).status).toBe(404);
    const types = (
      await sql(env.db.url, `SELECT type FROM audit_events WHERE (type LIKE 'resource_type.%' OR type = 'resource.deleted') AND tenant_id = 'acme' ORDER BY id`)
    ).map((r: { type: string }) => r.type);
    expect(types.slice(-4)).toEqual(['resource.deleted', 'resource.deleted', 'resource_type.declared', 'resource_type.deleted']);
  });

  it("another tenant sees none of this tenant's types or resources, and its decisions about the same id do not read them", async () => {
    const globexAdmin = await adminToken('globex');
    expect((await call(a.url, 'GET', '/v1/resource-types', { token: globexAdmin })).body).toEqual({ types: [] });
    expect((await call(a.url, 'GET', '/v1/resources', { token: globexAdmin })).body).toEqual({ resources: [], next_after: null });
    expect((await call(a.url, 'GET', '/v1/resources/doc-1', { token: globexAdmin })).status).toBe(404);
    expect((await call(a.url, 'DELETE', '/v1/resources/doc-1', { token: globexAdmin })).status).toBe(404);
    expect((await putResource('doc-1', { type: 'Document', owner: 'mallory', attributes: { department: 'x' } }, a, globexAdmin)).body).toMatchObject({
      field: 'type',
    });
    const sim = await call(a.url, 'POST', '/v1/authorize/simulate', {
      token: globexAdmin,
      body: {
        ...envelope('bob', 'read_document', { id: 'doc-1', type: 'Calendar' }),
        agent: { token: await agentToken({ tenant: 'globex', human: 'bob', actors: ['doc-agent'] }) },
      },
    });
    expect(sim.status).toBe(200);
    expect(sim.body.facts).toMatchObject({ resource_type: 'Calendar', resource_classification: 'internal' });
    expect(sim.body.facts).not.toHaveProperty('resource');
    expect((await call(a.url, 'GET', '/v1/resources/doc-1', { token: admin })).body).toMatchObject({ owner: 'alice', classification: 'confidential' });
  });

  it("a change to a resource's attributes, classification or owner reaches the second instance's decisions within a second", async () => {
    const doc3 = { type: 'Document', classification: 'internal', owner: 'alice', attributes: { department: 'sales' } };
    // Warm B's cache, so what B answers next comes from the invalidation, not a cold read.
    expect((await authorize('bob', { id: 'doc-3' }, { app: b })).body.verdict).toBe('allow');

    let t0 = Date.now();
    expect((await putResource('doc-3', { ...doc3, attributes: { department: 'hr' } })).status).toBe(200);
    let r = await until(
      () => authorize('bob', { id: 'doc-3' }, { app: b }),
      (x) => x.body?.verdict === 'deny',
      t0,
    );
    propagation.attribute = r.elapsed;
    expect(decision(r.res)).toEqual({ status: 403, verdict: 'deny', reasons: ['hr_docs_for_hr'] });

    t0 = Date.now();
    expect((await putResource('doc-3', { ...doc3, attributes: { department: 'hr' }, owner: 'bob' })).status).toBe(200);
    r = await until(
      () => authorize('bob', { id: 'doc-3' }, { app: b }),
      (x) => x.body?.verdict === 'allow',
      t0,
    );
    propagation.owner = r.elapsed;
    expect(decision(r.res)).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });

    t0 = Date.now();
    expect((await putResource('doc-3', { ...doc3, classification: 'confidential' })).status).toBe(200);
    r = await until(
      () => authorize('bob', { id: 'doc-3' }, { app: b }),
      (x) => x.body?.verdict === 'deny',
      t0,
    );
    propagation.classification = r.elapsed;
    expect(decision(r.res)).toEqual({ status: 403, verdict: 'deny', reasons: ['not_the_owner'] });

    t0 = Date.now();
    expect((await call(a.url, 'DELETE', '/v1/resources/doc-3', { token: admin })).status).toBe(204);
    r = await until(
      () => authorize('bob', { id: 'doc-3' }, { app: b }),
      (x) => x.body?.verdict === 'allow',
      t0,
    );
    propagation.deleted = r.elapsed;
    expect(decision(r.res)).toEqual({ status: 200, verdict: 'allow', reasons: ['granted'] });

    for (const ms of Object.values(propagation)) expect(ms).toBeLessThan(1000);
  });

  it('an approved call is judged again at redeem against the resource as registered then: reassigned and reclassified since, it is denied', async () => {
    const approval = `@reason("export_needs_approval") @step_up("true") @obligation("human_approval") @approvers("delegator")
permit (principal, action == Action::"call_tool", resource) when { context.granted && context.action_category == "export" };`;
    expect((await publish({ ...POLICIES, approval })).status).toBe(201);
    const doc4 = { type: 'Document', classification: 'internal', owner: 'alice', attributes: { department: 'sales' } };
    expect((await putResource('doc-4', doc4)).status).toBe(201);
    const parkExport = async () => {
      const res = await authorize('alice', { id: 'doc-4' }, { tool: 'export_document', category: 'export' });
      expect(res.body).toMatchObject({ verdict: 'allow_with_obligations', reasons: ['export_needs_approval', 'granted'] });
      const id = res.body.auth_req_id as string;
      expect((await voteAs(a, { approvalId: id, approverId: 'alice', decision: 'approve', reason: 'fine' })).body.status).toBe('approved');
      return id;
    };
    const redeem = (id: string) => call(a.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });

    // Unchanged: the token is issued.
    expect((await redeem(await parkExport())).body).toMatchObject({ approval_token: expect.any(String) });
    // Given to bob and made confidential between the approval and the redeem: denied with the policy's reason.
    const id = await parkExport();
    expect((await putResource('doc-4', { ...doc4, owner: 'bob', classification: 'confidential' })).status).toBe(200);
    const denied = await redeem(id);
    expect(denied.body).toMatchObject({ error: 'access_denied', reason: 'reevaluation_denied', reasons: ['not_the_owner'] });
  });
});
