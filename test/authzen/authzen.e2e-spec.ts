/**
 * The OpenID AuthZEN Authorization API 1.0 face, end to end (real Postgres, Redis and HTTP, the
 * starter policy set): the specification's own examples adapted to agents and tools, the three
 * batch semantics, defaults, metadata, errors, and parity with /v1/authorize, decision by decision
 * and audit event by audit event.
 */
import { randomUUID } from 'node:crypto';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { sql } from '../support/callback-server';
import { addApprovers } from '../support/directory';
import { agentToken, gatewayToken } from '../support/keys';

const TENANT = 'acme';
const HUMAN = 'az-alice';
const agentId = (name: string) => `spiffe://acme.example/agents/az-${name}`;
/** The specification's example request id (§10.1.3). */
const SPEC_REQUEST_ID = 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716';

describe('AuthZEN Authorization API 1.0', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  /** Tokens of the agents alice delegated to: `reader` (docs, calendar), `payer` (payments). */
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await gatewayToken({ tenant: TENANT, sub: 'gateway-1' });
    const admin = await gatewayToken({ tenant: TENANT, sub: 'idp', scope: 'countersign:delegations' });
    // alice approves her own agents' parked calls ("delegator"), so she is in the directory.
    await addApprovers(env.db.url, TENANT, [HUMAN]);
    const grants = { reader: ['docs/*', 'calendar/*', 'banking/read_account'], payer: ['payments/transfer_funds'] };
    for (const [name, tools] of Object.entries(grants)) {
      const res = await call(api.url, 'POST', '/v1/delegations', { token: admin, body: { human: HUMAN, agent: agentId(name), tools } });
      expect(res.status).toBe(201);
      tokens[name] = await agentToken({ human: HUMAN, actors: [agentId(name)] });
    }
  });
  afterAll(() => env.teardown());

  const subject = (name: string, extra: Record<string, unknown> = {}) => ({ type: 'agent', id: agentId(name), properties: { token: tokens[name], ...extra } });
  /** A session per test, so that no test's denials count against another's (step-up after 3 denials). */
  const session = () => ({ correlation: { mcp_session_id: `az-${randomUUID()}` } });
  const readDoc = (id: string) => ({ type: 'document', id, properties: { classification: 'internal' } });
  const evaluate = (body: unknown, headers: Record<string, string> = {}) => call(api.url, 'POST', '/access/v1/evaluation', { token: gateway, body, headers });
  const evaluations = (body: unknown, headers: Record<string, string> = {}) =>
    call(api.url, 'POST', '/access/v1/evaluations', { token: gateway, body, headers });
  const auditByRequest = (requestId: string) =>
    sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND request_id = $1 ORDER BY id`, [requestId]);

  describe('PDP metadata', () => {
    it('is served at /.well-known/authzen-configuration without a credential, naming the endpoints under PUBLIC_URL', async () => {
      const res = await call(api.url, 'GET', '/.well-known/authzen-configuration');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      const pdp = api.config.PUBLIC_URL.replace(/\/+$/, '');
      // Exactly what is implemented: no search endpoints, no empty `capabilities`.
      expect(res.body).toEqual({
        policy_decision_point: pdp,
        access_evaluation_endpoint: `${pdp}/access/v1/evaluation`,
        access_evaluations_endpoint: `${pdp}/access/v1/evaluations`,
        supported_obligations: ['step-up'],
      });
    });
  });

  describe('Access Evaluation (§6)', () => {
    it("answers the specification's example request, adapted to an agent reading an account, with {decision: true} and echoes X-Request-ID", async () => {
      const res = await evaluate(
        {
          subject: subject('reader'),
          resource: { type: 'account', id: '123' },
          action: { name: 'read_account', properties: { method: 'GET', server: 'banking' } },
          context: { time: '1985-10-26T01:22-07:00', ...session() },
        },
        { 'x-request-id': SPEC_REQUEST_ID },
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.headers.get('x-request-id')).toBe(SPEC_REQUEST_ID);
      expect(res.body).toEqual({ decision: true });
      const [audit] = await auditByRequest(SPEC_REQUEST_ID);
      expect(audit.data).toMatchObject({
        verdict: 'allow',
        reasons: ['granted_read'],
        input: { action: { server: 'banking', tool: 'read_account', method: 'GET' } },
      });
    });

    it('takes an MCP PEP\'s tools/call mapping: action "tools/call" on a resource of type "tool"', async () => {
      const res = await evaluate({
        subject: subject('reader'),
        action: { name: 'tools/call' },
        resource: { type: 'tool', id: 'read_calendar', properties: { server: 'calendar' } },
        context: { arguments: { calendar: 'primary' }, intent: { text: 'check my calendar for tomorrow' }, ...session() },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ decision: true });
    });

    it('answers a deny with 200 and {decision: false} carrying reason_admin, reason_user and the reason codes', async () => {
      const res = await evaluate({
        subject: subject('reader'),
        action: { name: 'delete_order', properties: { server: 'orders' } },
        resource: { type: 'order', id: 'ord-1', properties: { environment: 'staging' } },
        context: { arguments: { order_id: 'ord-1' }, intent: { category: 'delete' }, ...session() },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        decision: false,
        context: {
          decision_id: expect.stringMatching(/^dec_/),
          reasons: expect.arrayContaining(['not_delegated']),
          reason_admin: { '403': expect.stringContaining('not_delegated') },
          reason_user: { '403': expect.any(String) },
        },
      });
    });

    it('parks a call that needs approval as /v1/authorize does, answers false with a step-up obligation, and the PEP resumes through the approval endpoints', async () => {
      const res = await evaluate({
        subject: subject('payer'),
        action: { name: 'transfer_funds', properties: { server: 'payments' } },
        resource: { type: 'bank_account', id: 'acct-7', properties: { classification: 'confidential', environment: 'production' } },
        context: {
          arguments: { amount: 25000, currency: 'EUR', iban: 'DE89370400440532013000' },
          intent: { category: 'pay', text: 'pay the quarterly invoice' },
          reason: 'Invoice INV-2026-0042 is due today',
          ...session(),
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.decision).toBe(false);
      const { context } = res.body;
      expect(context.reasons).toEqual(['payment_above_threshold']);
      expect(context.obligations).toHaveLength(1);
      const [obligation] = context.obligations;
      const id = obligation.properties.auth_req_id;
      const base = `${api.config.PUBLIC_URL.replace(/\/+$/, '')}/v1/approvals/${id}`;
      expect(obligation).toEqual({
        id,
        type: 'step-up',
        properties: {
          acr_value: 'urn:countersign:acr:human-approval',
          auth_req_id: expect.any(String),
          expires_in: 900,
          interval: 1,
          approvers: ['delegator', 'group:finance'],
          quorum: 1,
          approver_sets: [{ approvers: ['delegator', 'group:finance'], quorum: 1, independent_approvers: false }],
          binding_message: 'Payment at or above the approval threshold',
          status_endpoint: base,
          token_endpoint: `${base}/token`,
        },
      });
      // A real approval request, bound to this call, audited once with the decision.
      const pending = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
      expect(pending.body).toMatchObject({
        status: 'pending',
        agent_id: agentId('payer'),
        delegator_id: HUMAN,
        tool_call: { server: 'payments', tool: 'transfer_funds' },
      });
      const audit = await sql(env.db.url, `SELECT approval_id, data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
        context.decision_id,
      ]);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ approval_id: id, data: { verdict: 'allow_with_obligations' } });

      const early = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(early.body.error).toBe('authorization_pending');
      expect((await voteAs(api, { approvalId: id, approverId: HUMAN, decision: 'approve', reason: 'invoice checked' })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100)); // the interval
      const redeemed = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(redeemed.status).toBe(200);
      expect(redeemed.body).toMatchObject({ auth_req_id: id, approval_token: expect.any(String) });
    });

    it('echoes any X-Request-ID as sent, not only plain tokens, on decisions and errors alike (§10.1.3)', async () => {
      // Not a plain token: the rest of the service would answer with an id of its own.
      const ascii = 'PEP request #42 (retry 1)';
      const body = {
        subject: subject('reader'),
        action: { name: 'read_document', properties: { server: 'docs' } },
        resource: readDoc('1'),
        context: session(),
      };
      const ok = await evaluate(body, { 'x-request-id': ascii });
      expect(ok.headers.get('x-request-id')).toBe(ascii);
      const bad = await evaluate({ ...body, subject: undefined }, { 'x-request-id': ascii });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('x-request-id')).toBe(ascii);
      const anonymous = await call(api.url, 'POST', '/access/v1/evaluations', { body, headers: { 'x-request-id': ascii } });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('x-request-id')).toBe(ascii);
    });

    it('ignores members it does not know, at every level (§10.1.1)', async () => {
      const res = await evaluate({
        subject: { ...subject('reader'), department: 'Sales' },
        action: { name: 'read_document', properties: { server: 'docs', period: '2W' } },
        resource: { ...readDoc('doc-1'), owner: 'bob' },
        context: {
          intent: { category: 'read', mood: 'curious' },
          supported_obligations: ['step-up'],
          schema: 'https://schema.example.com/x.json',
          ...session(),
        },
        evaluations: 'not ours here',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ decision: true });
    });
  });

  describe('Access Evaluations (§7)', () => {
    /** Three documents, the second one on a tool alice never delegated: allowed, denied, allowed. */
    const threeDocuments = (semantic?: string) => ({
      subject: subject('reader'),
      action: { name: 'read_document', properties: { server: 'docs' } },
      context: { intent: { category: 'read' }, ...session() },
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
      evaluations: [
        { resource: readDoc('1') },
        { resource: readDoc('2'), action: { name: 'read_document', properties: { server: 'wiki' } } },
        { resource: readDoc('3') },
      ],
    });

    it('execute_all (also the default) decides every member and answers in request order', async () => {
      for (const semantic of ['execute_all', undefined]) {
        const requestId = randomUUID();
        const res = await evaluations(threeDocuments(semantic), { 'x-request-id': requestId });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toBe(requestId);
        expect(res.body.evaluations.map((d: any) => d.decision)).toEqual([true, false, true]);
        expect(res.body.evaluations[1].context.reasons).toContain('not_delegated');
        expect(res.body.decision).toBeUndefined();
        expect(await auditByRequest(requestId)).toHaveLength(3);
      }
    });

    it('deny_on_first_deny stops after the first deny: two answers, and the third member is never decided', async () => {
      const requestId = randomUUID();
      const res = await evaluations(threeDocuments('deny_on_first_deny'), { 'x-request-id': requestId });
      expect(res.status).toBe(200);
      expect(res.body.evaluations).toHaveLength(2);
      expect(res.body.evaluations.map((d: any) => d.decision)).toEqual([true, false]);
      const audited = await auditByRequest(requestId);
      expect(audited.map((a) => a.data.input.resource.id)).toEqual(['1', '2']);
    });

    it("permit_on_first_permit stops after the first permit: one answer for the specification's example", async () => {
      const requestId = randomUUID();
      const res = await evaluations(threeDocuments('permit_on_first_permit'), { 'x-request-id': requestId });
      expect(res.status).toBe(200);
      expect(res.body.evaluations).toEqual([{ decision: true }]);
      expect(await auditByRequest(requestId)).toHaveLength(1);
    });

    it('permit_on_first_permit goes past denials to the first permit', async () => {
      const body = threeDocuments('permit_on_first_permit');
      body.evaluations = [body.evaluations[1], body.evaluations[1], body.evaluations[0], body.evaluations[2]];
      const res = await evaluations(body);
      expect(res.body.evaluations.map((d: any) => d.decision)).toEqual([false, false, true]);
    });

    it("takes the specification's defaults example: subject and context for all, the action overridden by the third member", async () => {
      const requestId = randomUUID();
      const res = await evaluations(
        {
          subject: subject('reader'),
          context: { intent: { text: 'look something up' }, ...session() },
          action: { name: 'read_document', properties: { server: 'docs' } },
          evaluations: [
            { resource: readDoc('boxcarring.md') },
            { resource: readDoc('subject-search.md') },
            // The member's own action and context replace the defaults whole.
            {
              action: { name: 'edit_document', properties: { server: 'docs' } },
              resource: readDoc('resource-search.md'),
              context: { intent: { category: 'write' }, ...session() },
            },
          ],
        },
        { 'x-request-id': requestId },
      );
      expect(res.status).toBe(200);
      expect(res.body.evaluations).toEqual([{ decision: true }, { decision: true }, { decision: true }]);
      const audited = await auditByRequest(requestId);
      // execute_all decides the members concurrently: their audit rows may land in any order.
      const rows = audited.map((a) => [a.data.input.action.tool, a.data.input.intent, a.data.reasons]);
      expect(rows.sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
        ['edit_document', { category: 'write' }, ['granted_write']],
        ['read_document', { text: 'look something up' }, ['granted_read']],
        ['read_document', { text: 'look something up' }, ['granted_read']],
      ]);
    });

    it('lets every member name its own subject, action and resource when there are no defaults', async () => {
      const member = (name: string, tool: string, server: string) => ({
        subject: subject(name),
        action: { name: tool, properties: { server } },
        resource: readDoc('x'),
        context: { intent: { category: 'read' }, ...session() },
      });
      const res = await evaluations({ evaluations: [member('reader', 'read_document', 'docs'), member('payer', 'read_document', 'docs')] });
      expect(res.body.evaluations.map((d: any) => d.decision)).toEqual([true, false]);
    });

    it('without members is the single evaluation, answered as one Decision', async () => {
      const res = await evaluations({
        subject: subject('reader'),
        action: { name: 'read_document', properties: { server: 'docs' } },
        resource: readDoc('1'),
        context: session(),
        evaluations: [],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ decision: true });
    });
  });

  describe('errors', () => {
    const valid = () => ({ subject: subject('reader'), action: { name: 'read_document', properties: { server: 'docs' } }, resource: readDoc('1') });

    it.each([
      ['a missing subject', (b: any) => delete b.subject, 'subject', 'subject: is required'],
      ['a subject without id', (b: any) => delete b.subject.id, 'subject.id', 'subject.id: is required'],
      ['an action without name', (b: any) => delete b.action.name, 'action.name', 'action.name: is required'],
      ['a missing resource', (b: any) => delete b.resource, 'resource', 'resource: is required'],
      ['a subject that is not an agent', (b: any) => (b.subject.type = 'user'), 'subject.type', 'subject.type: must be "agent"'],
      ['no agent token', (b: any) => delete b.subject.properties.token, 'subject.properties.token', 'subject.properties.token: is required'],
      ['no server for the tool', (b: any) => delete b.action.properties.server, 'action.properties.server', 'action.properties.server: is required'],
      ['an unknown classification', (b: any) => (b.resource.properties.classification = 'secret'), 'resource.properties.classification', undefined],
      ['an unknown environment', (b: any) => (b.resource.properties.environment = 'prod'), 'resource.properties.environment', undefined],
      ['an unknown intent category', (b: any) => (b.context = { intent: { category: 'plunder' } }), 'context.intent.category', undefined],
      ['arguments that are not an object', (b: any) => (b.context = { arguments: [1, 2] }), 'context.arguments', undefined],
      ["a subject.id that is not the token's agent", (b: any) => (b.subject.id = agentId('payer')), 'subject.id', undefined],
    ])('answers %s with 400 naming the member', async (_name, mutate, field, description) => {
      const body: any = valid();
      mutate(body);
      const res = await evaluate(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field });
      if (description) expect(res.body.error_description).toBe(description);
    });

    it('names the member of a batch, or the default it came from', async () => {
      const base = { ...valid(), evaluations: [{}, { resource: { type: 'document', id: '2', properties: { classification: 'secret' } } }] };
      const member = await evaluations(base);
      expect(member.status).toBe(400);
      expect(member.body.field).toBe('evaluations.1.resource.properties.classification');

      const fromDefault = await evaluations({ ...base, resource: { type: 'document', id: '1', properties: { classification: 'secret' } }, evaluations: [{}] });
      expect(fromDefault.body.field).toBe('resource.properties.classification');

      const missing = await evaluations({ action: valid().action, resource: readDoc('1'), evaluations: [{ subject: subject('reader') }, {}] });
      expect(missing.status).toBe(400);
      expect(missing.body.field).toBe('evaluations.1.subject');
    });

    it('validates the whole batch before deciding any member: a bad member parks and audits nothing', async () => {
      const requestId = randomUUID();
      const res = await evaluations({ ...valid(), evaluations: [{}, {}, { subject: { type: 'agent' } }] }, { 'x-request-id': requestId });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('evaluations.2.subject.id');
      expect(await auditByRequest(requestId)).toHaveLength(0);
    });

    it('limits a batch to 100 members with a clear 400', async () => {
      const res = await evaluations({ ...valid(), evaluations: Array.from({ length: 101 }, () => ({})) });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field: 'evaluations', error_description: 'evaluations: must have at most 100 members' });
      const hundred = await evaluations({ ...valid(), context: session(), evaluations: Array.from({ length: 100 }, () => ({})) });
      expect(hundred.status).toBe(200);
      expect(hundred.body.evaluations).toHaveLength(100);
    });

    it('rejects an unknown evaluations_semantic', async () => {
      const res = await evaluations({ ...valid(), options: { evaluations_semantic: 'majority' }, evaluations: [{}] });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('options.evaluations_semantic');
    });

    it('answers a body that is not JSON, or not an object, with 400', async () => {
      const bad = await call(api.url, 'POST', '/access/v1/evaluation', { token: gateway, rawBody: '{"subject": ' });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toBe('invalid_request');
      const array = await evaluate([valid()]);
      expect(array.status).toBe(400);
    });

    it('answers a PEP without a gateway credential with 401, on both endpoints', async () => {
      for (const path of ['/access/v1/evaluation', '/access/v1/evaluations']) {
        const res = await call(api.url, 'POST', path, { body: valid(), headers: { 'x-request-id': SPEC_REQUEST_ID } });
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_token');
        expect(res.headers.get('x-request-id')).toBe(SPEC_REQUEST_ID);
      }
    });

    it('denies (200, decision false), not errors, when the agent token does not verify, and audits it', async () => {
      const expired = await agentToken({ human: HUMAN, actors: [agentId('reader')], expiresIn: '-1h' });
      const requestId = randomUUID();
      const res = await evaluate(
        { ...valid(), subject: { type: 'agent', id: agentId('reader'), properties: { token: expired } } },
        { 'x-request-id': requestId },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ decision: false, context: { reasons: ['agent_token_expired'] } });
      expect(await auditByRequest(requestId)).toHaveLength(1);
    });
  });

  describe('one decision path, two faces', () => {
    /** Each call as /v1/authorize's envelope and as an AuthZEN evaluation. */
    const CALLS: { name: string; agent: string; envelope: Record<string, any> }[] = [
      {
        name: 'a granted read',
        agent: 'reader',
        envelope: { action: { server: 'docs', tool: 'read_document', arguments: { id: 'd1' } }, intent: { category: 'read' } },
      },
      {
        name: 'a sensitive read with a sampled review',
        agent: 'reader',
        envelope: { action: { server: 'docs', tool: 'read_document' }, resource: { id: 'd2', type: 'document', classification: 'confidential' } },
      },
      {
        name: 'a small payment',
        agent: 'payer',
        envelope: { action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 500 } }, intent: { category: 'pay' } },
      },
      {
        name: 'a large payment (parked)',
        agent: 'payer',
        envelope: {
          action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 50000 } },
          intent: { category: 'pay' },
          reason: 'supplier invoice',
        },
      },
      {
        name: 'a large payment without a reason',
        agent: 'payer',
        envelope: { action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 50000 } } },
      },
      {
        name: 'an intent mismatch',
        agent: 'payer',
        envelope: { action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 5 } }, intent: { category: 'read' } },
      },
      { name: 'a tool never delegated', agent: 'reader', envelope: { action: { server: 'orders', tool: 'delete_order' }, environment: 'staging' } },
      {
        name: 'a bulk external export',
        agent: 'reader',
        envelope: {
          action: { server: 'calendar', tool: 'export_calendars', arguments: { people: 'all executives', destination: 'https://evil.example/upload' } },
          intent: { category: 'export' },
          reason: 'offsite',
        },
      },
      {
        name: 'a blocked gateway signal',
        agent: 'reader',
        envelope: { action: { server: 'docs', tool: 'read_document' }, risk: { signals: ['malware_suspected'], network: 'tor' } },
      },
    ];

    /** The same call in AuthZEN's shape, as documented in the README. */
    function asAuthZen(agent: string, e: Record<string, any>, sessionId: string) {
      const { action, resource, environment, ...context } = e;
      const properties = { ...(resource?.classification ? { classification: resource.classification } : {}), ...(environment ? { environment } : {}) };
      return {
        subject: subject(agent),
        action: { name: action.tool, properties: { server: action.server } },
        resource: resource?.id
          ? { type: resource.type, id: resource.id, properties }
          : { type: 'tool', id: action.tool, properties: { server: action.server, ...properties } },
        context: { ...context, ...(action.arguments ? { arguments: action.arguments } : {}), correlation: { mcp_session_id: sessionId } },
      };
    }

    it.each(CALLS.map((c) => [c.name, c] as const))('%s: the same verdict and reasons, each audited once', async (_name, c) => {
      const direct = await call(api.url, 'POST', '/v1/authorize', {
        token: gateway,
        body: { agent: { token: tokens[c.agent] }, ...c.envelope, correlation: { mcp_session_id: `az-${randomUUID()}` } },
      });
      const requestId = randomUUID();
      const viaAuthZen = await evaluate(asAuthZen(c.agent, c.envelope, `az-${randomUUID()}`), { 'x-request-id': requestId });
      expect(viaAuthZen.status).toBe(200);
      expect(viaAuthZen.body.decision).toBe(direct.body.verdict === 'allow');

      const [directAudit] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
        direct.body.decision_id,
      ]);
      const authZenAudit = await auditByRequest(requestId);
      expect(authZenAudit).toHaveLength(1);
      const essence = (d: any) => ({ verdict: d.verdict, reasons: d.reasons, obligations: d.obligations, determining_policies: d.determining_policies });
      expect(essence(authZenAudit[0].data)).toEqual(essence(directAudit.data));
      expect(directAudit.data).toMatchObject({ verdict: direct.body.verdict, reasons: direct.body.reasons });
      // What the PEP reads: no context on an allow; the reasons on a deny or a parked call.
      if (direct.body.verdict === 'allow') expect(viaAuthZen.body).toEqual({ decision: true });
      else expect(viaAuthZen.body.context.reasons).toEqual(direct.body.reasons);
      if (direct.body.verdict === 'allow_with_obligations') {
        expect(viaAuthZen.body.context.obligations[0]).toMatchObject({ type: 'step-up', properties: { approvers: direct.body.obligations[0].approvers } });
      }
    });
  });
});
