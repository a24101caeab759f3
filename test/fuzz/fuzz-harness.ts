import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { Agent, request } from 'undici';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { BatchLinks } from '../../src/approvals/batch/batch-links.service';
import { ServiceQueues } from '../../src/ops/service-queues';
import { call, parkBody } from '../support/api';
import { Redis } from 'ioredis';
import { REDIS_URL, TestApp } from '../support/app';
import { agentToken, gatewayToken } from '../support/keys';
import { operatorToken } from '../ops/operators';
import { BAD_AUTHORIZATION_HEADERS, BadToken, badTokens } from './bad-tokens';
import { Components, hostileText, hostileValue, mutation, RawJson, Schema, toJson, validValue } from './schema-arbitraries';

/**
 * The fuzzer's world: the operations of the OpenAPI document, valid credentials of each kind,
 * real objects to aim at (a pending approval and its approver's link, a delegation, a CIBA
 * client), and the state that a rejected request must leave as it was.
 */

export type Operation = {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
  responses: Record<string, unknown>;
};
export type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components: { schemas: Components } };
export interface Op {
  method: string;
  path: string;
  op: Operation;
  /** Which credential it takes: the security scheme, 'operator' for the operator scope, 'public'. */
  credential: 'gateway' | 'operator' | 'approver_link' | 'approver_batch_link' | 'ciba_client' | 'public';
  /** Its errors are HTML pages (the approver's page), not the JSON Error body. */
  html: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const HTML_OPS = new Set([
  'GET /approve/{id}',
  'POST /approve/{id}',
  'GET /approve/standing',
  'POST /approve/standing',
  'GET /review/{id}',
  'POST /review/{id}',
  'GET /approve/batch',
  'POST /approve/batch',
]);
export const FUZZ_TENANT = 'acme';
const ALL_SCOPES = 'countersign:admin countersign:audit countersign:delegations';
const FUZZ_AGENT = 'spiffe://acme.example/agents/fuzz';
const PERMIT_ALL_GRANTED = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

export function operationsOf(doc: OpenApiDocument): Op[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => {
      const op = item[method];
      const schemes = (op.security ?? []).flatMap((r) => Object.entries(r));
      const [scheme, scopes] = schemes[0] ?? ['public', []];
      const credential = scopes.includes('countersign:operator') ? 'operator' : (scheme as Op['credential']);
      return { method: method.toUpperCase(), path, op, credential, html: HTML_OPS.has(`${method.toUpperCase()} ${path}`) };
    }),
  );
}

/** Live fixtures; some are replaced as the fuzzer cancels, decides or deletes them. */
export interface Fixtures {
  gateway: string;
  operator: string;
  agent: string;
  approvalId: string;
  link: string;
  /** Bob's batch link for the fixture approval's agent and task. */
  batchLink: string;
  delegationId: string;
  cibaBasic: string;
  badGateway: BadToken[];
  badLink: BadToken[];
  /** When the credentials above were signed (they live 10 minutes; see remintCredentials). */
  mintedAt: number;
}

export async function prepareFixtures(app: TestApp): Promise<Fixtures> {
  const gateway = await fuzzGatewayToken();
  const delegation = await call(app.url, 'POST', '/v1/delegations', {
    token: gateway,
    body: { human: 'alice', agent: FUZZ_AGENT, tools: ['calendar/*', 'payments/transfer_funds'] },
  });
  if (delegation.status !== 201) throw new Error(`delegation: ${delegation.status} ${JSON.stringify(delegation.body)}`);
  const policy = await call(app.url, 'POST', '/v1/policies', { token: gateway, body: { policies: { all: PERMIT_ALL_GRANTED }, activate: true } });
  if (policy.status !== 201) throw new Error(`policy: ${policy.status} ${JSON.stringify(policy.body)}`);
  const client = await call(app.url, 'PUT', '/v1/ciba-clients/fuzz-ciba', {
    token: gateway,
    body: { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic', client_name: 'fuzz' },
  });
  if (client.status !== 201) throw new Error(`ciba client: ${client.status} ${JSON.stringify(client.body)}`);
  const fixtures: Fixtures = {
    gateway,
    operator: await operatorToken(),
    agent: await agentToken({ human: 'alice', actors: [FUZZ_AGENT], tenant: FUZZ_TENANT }),
    approvalId: '',
    link: '',
    batchLink: '',
    delegationId: delegation.body.id,
    cibaBasic: `Basic ${Buffer.from(`fuzz-ciba:${encodeURIComponent(client.body.client_secret)}`).toString('base64')}`,
    badGateway: [],
    badLink: [],
    mintedAt: Date.now(),
  };
  await refreshApproval(app, fixtures);
  await signBadTokens(fixtures);
  return fixtures;
}

const fuzzGatewayToken = () => gatewayToken({ tenant: FUZZ_TENANT, sub: 'gateway-1', scope: ALL_SCOPES });

/** The bad credentials, derived from the current valid ones (their exp, iat and nbf are relative to now). */
async function signBadTokens(fixtures: Fixtures): Promise<void> {
  const bad = await badTokens(fixtures.gateway, fixtures.link);
  fixtures.badGateway = bad;
  // Against an approver link endpoint, every one of them is wrong, a valid gateway token included.
  fixtures.badLink = [
    ...bad.filter((t) => t.kind !== 'approver link as a gateway token').map((t) => ({ ...t, mustReject: true })),
    { kind: 'gateway token as an approver link', token: fixtures.gateway, mustReject: true },
  ];
}

/**
 * Signs every credential again: gateway, operator and agent tokens live 10 minutes and the
 * pending approval (with its approver link) expires too, so a run longer than that would
 * otherwise fuzz with expired credentials and test only the 401 path. The bad-token list keeps
 * its length, so a generated pick still names the same kind of bad token.
 */
export async function remintCredentials(app: TestApp, fixtures: Fixtures): Promise<void> {
  fixtures.gateway = await fuzzGatewayToken();
  fixtures.operator = await operatorToken();
  fixtures.agent = await agentToken({ human: 'alice', actors: [FUZZ_AGENT], tenant: FUZZ_TENANT });
  await refreshApproval(app, fixtures);
  await signBadTokens(fixtures);
  fixtures.mintedAt = Date.now();
}

/** A fresh pending approval for bob, and bob's link to it. */
export async function refreshApproval(app: TestApp, fixtures: Fixtures): Promise<void> {
  const res = await call(app.url, 'POST', '/v1/approvals', {
    token: fixtures.gateway,
    body: parkBody({ obligation: { approvers: ['user:bob'], binding_message: 'fuzz' } }),
  });
  if (res.status !== 200) throw new Error(`park: ${res.status} ${JSON.stringify(res.body)}`);
  fixtures.approvalId = res.body.auth_req_id;
  const { token } = await app.app.get(ApproverLinks).mint({ tenantId: FUZZ_TENANT, approvalId: fixtures.approvalId, approverId: 'bob' });
  fixtures.link = token;
  const scope = { agentId: parkBody().agent.id, taskId: parkBody().intent.id };
  fixtures.batchLink = (await app.app.get(BatchLinks).mint(FUZZ_TENANT, 'bob', scope)).token;
}

/** A valid body to start from, per operation (the fuzzer mutates it), where a schema alone would rarely get past validation. */
function seedBody(op: Op, f: Fixtures): unknown {
  const toolCall = { type: 'tool_call', server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount: 25, currency: 'EUR' }, reason: 'fuzz' };
  switch (`${op.method} ${op.path}`) {
    case 'POST /v1/approvals':
      return parkBody({ obligation: { approvers: ['user:bob'], binding_message: 'fuzz' } });
    case 'POST /v1/approvals/{id}/decisions':
      return { decision: 'deny', reason: 'fuzz' };
    case 'PUT /v1/approvers/{id}':
      return { display_name: 'Fuzz', email: 'fuzz@acme.example' };
    case 'PUT /v1/approver-groups/{name}':
      return { display_name: 'Fuzzers', members: ['bob', 'carol'] };
    case 'POST /v1/push-subscriptions':
      return {
        endpoint: 'https://push.example/send/1',
        keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' },
      };
    case 'POST /v1/authorize':
    case 'POST /v1/authorize/simulate':
      return { agent: { token: f.agent }, action: { server: 'calendar', tool: 'read_calendar', arguments: { day: 'monday' } }, reason: 'fuzz' };
    case 'POST /v1/authorize/tools':
      return {
        agent: { token: f.agent },
        tools: [
          { server: 'calendar', tool: 'read_calendar' },
          { server: 'payments', tool: 'transfer_funds' },
        ],
      };
    case 'POST /v1/delegations':
      return { human: 'alice', agent: FUZZ_AGENT, tools: ['calendar/read_calendar'], parent_id: f.delegationId, purpose: 'fuzz' };
    case 'POST /v1/policies':
      return { policies: { all: PERMIT_ALL_GRANTED }, description: 'fuzz' };
    case 'POST /access/v1/evaluation':
      return {
        subject: { type: 'agent', id: FUZZ_AGENT, properties: { token: f.agent } },
        action: { name: 'calendar/read_calendar' },
        resource: { type: 'calendar', id: 'cal-1' },
      };
    case 'POST /access/v1/evaluations':
      return {
        subject: { type: 'agent', id: FUZZ_AGENT, properties: { token: f.agent } },
        evaluations: [{ action: { name: 'calendar/read_calendar' }, resource: { type: 'calendar', id: 'cal-1' } }],
      };
    case 'PUT /v1/ciba-clients/{client_id}':
      return { backchannel_token_delivery_mode: 'poll', token_endpoint_auth_method: 'client_secret_basic', client_name: 'fuzz' };
    case 'POST /oauth/bc-authorize':
      return { scope: 'openid', login_hint: 'bob', binding_message: 'fuzz', authorization_details: JSON.stringify([toolCall]) };
    case 'POST /oauth/token':
      return { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: f.approvalId };
    case 'POST /approve/{id}':
      return { link: f.link, decision: 'deny', reason: 'fuzz' };
    case 'POST /approve/standing':
      return { link: f.link, id: `sta_${randomUUID()}` };
    case 'POST /approve/batch':
      return { link: f.batchLink, all: 'deny', reason: 'fuzz', ids: [f.approvalId] };
    case 'POST /v1/approvals/batch/votes':
      return { all: 'deny', auth_req_ids: [f.approvalId], reason: 'fuzz' };
    default:
      return undefined;
  }
}

/** Path parameter values that name a real object; everything else in the fuzzer is made up. */
function fixtureParam(op: Op, name: string, f: Fixtures): string {
  if (op.path.startsWith('/v1/approvers/')) return 'fuzz-approver';
  if (op.path.startsWith('/v1/approver-groups/')) return 'fuzz-group';
  if (op.path.startsWith('/v1/ciba-clients/')) return 'fuzz-client';
  if (op.path.startsWith('/v1/delegations/')) return f.delegationId;
  if (op.path.startsWith('/v1/policies/')) return '1';
  if (op.path.startsWith('/v1/push-subscriptions/')) return randomUUID();
  if (name === 'id') return f.approvalId;
  return 'x';
}

function fixtureQuery(op: Op, name: string, f: Fixtures): string | undefined {
  if (name === 'link') return op.path === '/approve/batch' ? f.batchLink : f.link;
  if (name === 'token' && op.path === '/admin/login') return f.operator;
  if (name === 'approval_id') return f.approvalId;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// What a generated input is, before the fixtures fill it in.

type ParamChoice = { kind: 'fixture' } | { kind: 'value'; value: unknown } | { kind: 'raw'; text: string };
type Credential = { kind: 'valid' } | { kind: 'none' } | { kind: 'bad'; pick: number } | { kind: 'header'; value: string } | { kind: 'wrong-kind' };
type BodyEncoding =
  | { kind: 'json'; contentType: string }
  | { kind: 'form'; contentType: string }
  | { kind: 'raw'; text: string; contentType: string }
  | { kind: 'corrupt'; how: 'truncate' | 'utf8' | 'bom' | 'trailing' | 'utf16'; at: number; bytes: readonly number[]; contentType: string }
  | { kind: 'oversize'; contentType: string }
  | { kind: 'none' };

export interface Plan {
  op: Op;
  method: string;
  params: Record<string, ParamChoice>;
  query: { name: string; choice: ParamChoice }[];
  base: 'seed' | 'schema';
  schemaValue: unknown;
  mutations: readonly ((v: unknown) => unknown)[];
  encoding: BodyEncoding;
  credential: Credential;
  headers: Record<string, string>;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json;;;',
  'application/x-www-form-urlencoded',
  'text/plain',
  'text/html',
  'multipart/form-data; boundary=fuzz',
  'application/octet-stream',
  'application/xml',
  'application/merge-patch+json',
  'application/jsonx',
  '*/*',
  'json',
  '',
  'application/json; boundary=\u00ff',
];

const rawParam: fc.Arbitrary<string> = fc.constantFrom(
  '%',
  '%zz',
  '%ff',
  '%c0%af',
  '%ed%a0%80',
  '%00',
  '%0d%0aSet-Cookie:x=1',
  '..',
  '%2e%2e%2f%2e%2e',
  'a%2Fb',
  '%252F',
  '%u0041',
  'x'.repeat(5000),
  '%e2%80%ae',
  '%F0%9F%98%80',
  '+',
  '%20',
  '*',
  ';',
);

function paramArb(schema: Schema | undefined, components: Components): fc.Arbitrary<ParamChoice> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<ParamChoice>({ kind: 'fixture' }) },
    { weight: 2, arbitrary: validValue(components, schema ?? { type: 'string' }).map<ParamChoice>((value) => ({ kind: 'value', value })) },
    { weight: 3, arbitrary: hostileText.map<ParamChoice>((value) => ({ kind: 'value', value })) },
    { weight: 2, arbitrary: rawParam.map<ParamChoice>((text) => ({ kind: 'raw', text })) },
  );
}

function bodyEncodingArb(form: boolean): fc.Arbitrary<BodyEncoding> {
  const natural = form ? 'application/x-www-form-urlencoded' : 'application/json';
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<BodyEncoding>(form ? { kind: 'form', contentType: natural } : { kind: 'json', contentType: natural }) },
    { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES).map<BodyEncoding>((contentType) => ({ kind: form ? 'form' : 'json', contentType })) },
    { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES).map<BodyEncoding>((contentType) => ({ kind: form ? 'json' : 'form', contentType })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            '',
            ' ',
            '{',
            '}',
            '[',
            '{"a":',
            '{"a":1,}',
            "{'a':1}",
            '{"a":1}{"b":2}',
            'null',
            'true',
            '0',
            '"str"',
            '[]',
            '{}',
            '{"__proto__":{"x":1}}',
            '{"a":1,"a":2}',
            'NaN',
            '{"a":Infinity}',
            '{"a":01}',
            '{"a":"\\x41"}',
            '{"a":"\\ud800"}',
            '{"a":"\\u0000"}',
            '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
            `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
            `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
            'a=1&b=2',
            'a=%zz',
            'a=%ff%fe',
            '--fuzz\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--fuzz--',
          ),
          fc.constantFrom(natural, ...CONTENT_TYPES),
        )
        .map<BodyEncoding>(([text, contentType]) => ({ kind: 'raw', text, contentType })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          how: fc.constantFrom('truncate' as const, 'utf8' as const, 'bom' as const, 'trailing' as const, 'utf16' as const),
          at: fc.nat(),
          bytes: fc.constantFrom([0xff], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x28, 0xa1], [0x00], [0xfe, 0xff]),
          contentType: fc.constant(natural),
        })
        .map<BodyEncoding>((c) => ({ kind: 'corrupt', ...c })),
    },
    { weight: 1, arbitrary: fc.constant<BodyEncoding>({ kind: 'none' }) },
  );
}

const oversize = { weight: 1, arbitrary: fc.constant<BodyEncoding>({ kind: 'oversize', contentType: 'application/json' }) };

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ['x-request-id', 'x'.repeat(300)],
        ['x-request-id', '../../etc'],
        ['x-request-id', 'a b\u00ff'],
        ['accept', 'text/html'],
        ['accept', 'application/xml'],
        ['accept-encoding', 'gzip, br, zstd'],
        ['accept-language', '*;q=abc'],
        ['user-agent', 'u'.repeat(10_000)],
        ['user-agent', '\u00ff\u00fe'],
        ['x-forwarded-for', '127.0.0.1, ::1, 10.0.0.1'],
        ['x-forwarded-host', 'evil.example'],
        ['x-http-method-override', 'DELETE'],
        ['origin', 'https://evil.example'],
        ['cookie', 'admin_session=forged; a=%zz'],
        ['content-encoding', 'gzip'],
        ['content-encoding', 'br'],
        ['expect', '100-continue'],
        ['idempotency-key', 'é\u00ff'],
        ['if-none-match', '*'],
        ['range', 'bytes=0-1'],
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => Object.fromEntries(pairs));

export function planArb(op: Op, components: Components, badCount: number): fc.Arbitrary<Plan> {
  const content = op.op.requestBody?.content ?? {};
  const [mediaType, media] = Object.entries(content)[0] ?? [];
  const form = mediaType === 'application/x-www-form-urlencoded';
  const pathParams = (op.op.parameters ?? []).filter((p) => p.in === 'path');
  const queryParams = (op.op.parameters ?? []).filter((p) => p.in === 'query');
  const paramsArb = fc.record(Object.fromEntries(pathParams.map((p) => [p.name, paramArb(p.schema, components)])) as Record<string, fc.Arbitrary<ParamChoice>>);
  const queryArb = fc
    .tuple(
      fc.subarray(queryParams, { minLength: 0 }),
      fc.array(fc.constantFrom('extra', '__proto__', 'wait', 'limit', 'link', 'a[b]', 'cursor'), { maxLength: 2 }),
    )
    .chain(([chosen, extra]) =>
      fc.tuple(
        ...[...chosen.map((p) => ({ name: p.name, schema: p.schema })), ...extra.map((name) => ({ name, schema: undefined }))].map(({ name, schema }) =>
          paramArb(schema, components).map((choice) => ({ name, choice })),
        ),
      ),
    );
  const credentialArb: fc.Arbitrary<Credential> = fc.oneof(
    { weight: 16, arbitrary: fc.constant<Credential>({ kind: 'valid' }) },
    { weight: 1, arbitrary: fc.constant<Credential>({ kind: 'none' }) },
    { weight: 3, arbitrary: fc.nat({ max: badCount - 1 }).map<Credential>((pick) => ({ kind: 'bad', pick })) },
    { weight: 1, arbitrary: fc.constantFrom(...BAD_AUTHORIZATION_HEADERS).map<Credential>((value) => ({ kind: 'header', value })) },
    { weight: 1, arbitrary: fc.constant<Credential>({ kind: 'wrong-kind' }) },
  );
  const methodArb = fc.oneof(
    { weight: 30, arbitrary: fc.constant(op.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  );
  const bodyArb = media
    ? fc.record({
        base: fc.constantFrom<'seed' | 'schema'>('seed', 'seed', 'schema'),
        schemaValue: validValue(components, media.schema ?? {}),
        mutations: fc.array(mutation, { minLength: 0, maxLength: 3 }),
        encoding: fc.oneof(bodyEncodingArb(form), oversize),
      })
    : fc.record({
        base: fc.constant<'seed' | 'schema'>('schema'),
        schemaValue: fc.constant(undefined),
        mutations: fc.constant<readonly ((v: unknown) => unknown)[]>([]),
        encoding: fc.oneof(
          { weight: 8, arbitrary: fc.constant<BodyEncoding>({ kind: 'none' }) },
          { weight: 1, arbitrary: hostileValue.map<BodyEncoding>((v) => ({ kind: 'raw', text: toJson(v), contentType: 'application/json' })) },
          { weight: 1, arbitrary: bodyEncodingArb(false) },
        ),
      });
  return fc
    .record({ method: methodArb, params: paramsArb, query: queryArb, body: bodyArb, credential: credentialArb, headers: extraHeaders })
    .map(({ method, params, query, body, credential, headers }) => ({ op, method, params, query, ...body, credential, headers }));
}

// ---------------------------------------------------------------------------------------------
// From a plan to bytes on the wire.

export interface Built {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The credential was a bad one that every secured endpoint must refuse. */
  mustReject?: string;
  /** A bad credential that is accepted today (issue 14), by kind. */
  lenient?: string;
  describe: string;
}

function paramText(choice: ParamChoice, fixture: () => string | undefined): string | undefined {
  switch (choice.kind) {
    case 'fixture':
      return encodeURIComponent(fixture() ?? 'x');
    case 'raw':
      return choice.text;
    case 'value': {
      const v = choice.value;
      const text = typeof v === 'string' ? v : v instanceof RawJson ? v.text : toJson(v);
      return encodeLoose(text);
    }
  }
}

/** encodeURIComponent, except that a lone surrogate goes out as the (invalid) UTF-8 bytes of its code unit. */
function encodeLoose(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...text]
      .map((ch) => {
        try {
          return encodeURIComponent(ch);
        } catch {
          const c = ch.charCodeAt(0);
          return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
        }
      })
      .join('');
  }
}

function formEncode(value: unknown): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return encodeLoose(toJson(value) ?? '');
  return Object.entries(value as Record<string, unknown>)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((item) => `${encodeLoose(k)}=${encodeLoose(typeof item === 'string' ? item : toJson(item))}`))
    .join('&');
}

export function build(plan: Plan, f: Fixtures, components: Components): Built {
  const { op } = plan;
  let path = op.path;
  for (const [name, choice] of Object.entries(plan.params)) {
    path = path.replace(`{${name}}`, paramText(choice, () => fixtureParam(op, name, f)) ?? '');
  }
  const query = plan.query.map(({ name, choice }) => `${encodeLoose(name)}=${paramText(choice, () => fixtureQuery(op, name, f)) ?? ''}`).join('&');
  const headers: Record<string, string> = { ...plan.headers };
  let mustReject: string | undefined;
  let lenient: string | undefined;
  const cred = plan.credential;
  const bad = op.credential === 'approver_link' || op.credential === 'approver_batch_link' ? f.badLink : f.badGateway;
  switch (cred.kind) {
    case 'valid':
      if (op.credential === 'gateway') headers.authorization = `Bearer ${f.gateway}`;
      if (op.credential === 'operator') headers.authorization = `Bearer ${f.operator}`;
      if (op.credential === 'approver_link') headers.authorization = `Bearer ${f.link}`;
      if (op.credential === 'approver_batch_link') headers.authorization = `Bearer ${f.batchLink}`;
      if (op.credential === 'ciba_client') headers.authorization = f.cibaBasic;
      break;
    case 'bad': {
      const token = bad[cred.pick % bad.length];
      headers.authorization = `Bearer ${token.token}`;
      if (op.credential !== 'public') {
        if (token.mustReject) mustReject = token.kind;
        else lenient = token.kind;
      }
      break;
    }
    case 'header':
      headers.authorization = cred.value;
      if (op.credential !== 'public') mustReject = `Authorization: ${cred.value.slice(0, 30)}`;
      break;
    case 'wrong-kind':
      headers.authorization =
        op.credential === 'ciba_client' || op.credential === 'approver_link' || op.credential === 'approver_batch_link' ? `Bearer ${f.gateway}` : f.cibaBasic;
      if (op.credential !== 'public') mustReject = 'a credential of another kind';
      break;
    case 'none':
      if (op.credential !== 'public') mustReject = 'no credential';
      break;
  }
  // The approver page takes its link in the query or the form, not a header.
  if (op.html || op.path === '/admin/login') mustReject = undefined;

  let body: Buffer | undefined;
  const enc = plan.encoding;
  if (enc.kind !== 'none') {
    let value = plan.base === 'seed' ? (seedBody(op, f) ?? plan.schemaValue) : plan.schemaValue;
    for (const m of plan.mutations) value = m(value);
    if (enc.kind === 'json') body = Buffer.from(toJson(value));
    else if (enc.kind === 'form') body = Buffer.from(formEncode(value));
    else if (enc.kind === 'raw') body = Buffer.from(enc.text);
    else if (enc.kind === 'oversize') body = Buffer.from(toJson({ pad: 'x'.repeat(1024 * 1024 + 10) }));
    else {
      const text = Buffer.from(op.op.requestBody?.content['application/x-www-form-urlencoded'] ? formEncode(value) : toJson(value));
      const at = text.length ? enc.at % text.length : 0;
      if (enc.how === 'truncate') body = text.subarray(0, at);
      else if (enc.how === 'bom') body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]);
      else if (enc.how === 'trailing') body = Buffer.concat([text, Buffer.from(enc.bytes)]);
      else if (enc.how === 'utf16') body = Buffer.from(text.toString(), 'utf16le');
      else {
        // Inside a string where there is one, so the bytes reach a member's value.
        const quote = text.indexOf(0x22, at);
        const where = quote >= 0 ? quote + 1 : at;
        body = Buffer.concat([text.subarray(0, where), Buffer.from(enc.bytes), text.subarray(where)]);
      }
    }
    if ('contentType' in enc && enc.contentType) headers['content-type'] = enc.contentType;
  }
  const url = `${path}${query ? `?${query}` : ''}`;
  const describe = `${plan.method} ${url.length > 300 ? `${url.slice(0, 300)}…` : url} [${op.method} ${op.path}] cred=${cred.kind}${cred.kind === 'bad' ? `:${bad[cred.pick % bad.length].kind}` : ''} headers=${JSON.stringify(
    Object.fromEntries(
      Object.entries(headers)
        .filter(([k]) => k !== 'authorization')
        .map(([k, v]) => [k, v.slice(0, 60)]),
    ),
  )} body=${body ? JSON.stringify(body.toString('latin1').slice(0, 300)) : '-'}${body && body.length > 300 ? `… (${body.length} bytes)` : ''}`;
  void components;
  return { method: plan.method, url, headers, body, mustReject, lenient, describe };
}

// ---------------------------------------------------------------------------------------------
// Sending, and what a response must look like.

export interface Sent {
  status: number;
  contentType: string;
  text: string;
  ms: number;
}

let dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 4, headersTimeout: 0, bodyTimeout: 0 });

export function closeDispatcher(): Promise<void> {
  return dispatcher.destroy();
}

/** A header value no HTTP/1.1 client may send (RFC 9110: no CTL but HTAB, no code point above 0xFF). */
const UNSENDABLE = /[\u0000-\u0008\u000a-\u001f\u007f\u0100-\uffff]/;

export async function send(base: string, req: Built, timeoutMs: number): Promise<Sent | { clientError: string } | { timeout: true }> {
  const bad = Object.entries(req.headers).find(([, v]) => UNSENDABLE.test(v));
  if (bad) return { clientError: `the ${bad[0]} header cannot be sent` };
  const started = Date.now();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // A race as well as the abort: whatever undici does with an aborted request, the fuzzer moves on.
  const expired = new Promise<{ timeout: true }>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve({ timeout: true });
    }, timeoutMs);
  });
  const exchange = (async (): Promise<Sent | { clientError: string } | { timeout: true }> => {
    try {
      const res = await request(base + req.url, { method: req.method as any, headers: req.headers, body: req.body, dispatcher, signal: abort.signal });
      const text = await res.body.text();
      return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text, ms: Date.now() - started };
    } catch (e: any) {
      if (abort.signal.aborted) return { timeout: true };
      // undici refuses to send some inputs (an invalid header value or method): not the server's doing.
      if (
        ['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_CHAR', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_URL'].includes(e?.code) ||
        e instanceof TypeError
      ) {
        return { clientError: String(e?.message ?? e) };
      }
      // The server closed the connection without an answer: a failure.
      return { status: 0, contentType: '', text: `connection error: ${e?.code ?? ''} ${e?.message ?? e}`, ms: Date.now() - started };
    }
  })();
  try {
    const result = await Promise.race([exchange, expired]);
    // A connection given up on (or refused by the client) is not reused.
    if ('timeout' in result || 'clientError' in result) {
      void dispatcher.destroy().catch(() => undefined);
      dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 4, headersTimeout: 0, bodyTimeout: 0 });
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** POST /v1/authorize answers a deny as 403 with the decision (a `verdict`): an answer, not a refusal. */
export function isDecision(res: Sent): boolean {
  return res.status === 403 && res.text.startsWith('{"verdict"');
}

/** What is wrong with a response, or undefined. */
export function responseProblem(req: Built, op: Op, res: Sent): string | undefined {
  if (res.status === 0) return res.text;
  if (res.status >= 500) return `${res.status} ${res.text.slice(0, 200)}`;
  if (req.mustReject && res.status < 400) return `${res.status} with a refused credential (${req.mustReject})`;
  if (res.status < 400 || isDecision(res)) return undefined;
  // The approver's page answers GET and POST with HTML pages, whichever operation the fuzzer aimed at.
  if (op.html && ['GET', 'POST'].includes(req.method) && res.contentType.includes('text/html')) return undefined;
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    return `${res.status} whose body is not JSON: ${res.contentType} ${res.text.slice(0, 120)}`;
  }
  if (typeof body?.error !== 'string' || typeof body?.error_description !== 'string') return `${res.status} without the Error shape: ${res.text.slice(0, 200)}`;
  return undefined;
}

/**
 * The known class of issue 14 (fixed on another branch): a NUL or a lone surrogate in a stored
 * string, or a JSON number that overflows to Infinity. A 5xx counts as that class only when the
 * input carries one of them.
 */
export function knownClass(req: Built): string | undefined {
  const text = `${req.url} ${req.body?.toString('utf8') ?? ''}`;
  if (/\\u0000|\u0000|%00/i.test(text)) return 'NUL';
  if (/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}|%ED%[AB]/i.test(text)) return 'lone surrogate';
  if (/(?<![\w.])-?\d+(\.\d+)?[eE]\+?(3[1-9]\d|[4-9]\d\d|\d{4,})(?!\w)/.test(req.body?.toString('latin1') ?? '')) return 'Infinity';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The state a rejected request must not change.

const TABLES = [
  'approval_requests',
  'approval_votes',
  'audit_events',
  'delegations',
  'policy_sets',
  'active_policy_sets',
  'approvers',
  'approver_groups',
  'approver_group_members',
  'ciba_clients',
  'push_subscriptions',
  'notification_deliveries',
  'callback_attempts',
  'used_client_assertions',
];

export class StateProbe {
  private constructor(
    private readonly client: Client,
    private readonly redis: Redis,
    private readonly app: TestApp,
  ) {}

  static async open(dbUrl: string, app: TestApp): Promise<StateProbe> {
    const client = new Client({ connectionString: dbUrl });
    await client.connect();
    return new StateProbe(client, new Redis(REDIS_URL), app);
  }

  /** Row counts and the newest row version (xmin) of every table, and every queue's job counts. */
  async snapshot(): Promise<Record<string, string>> {
    const sql = TABLES.map((t) => `SELECT '${t}' AS t, count(*)::text || '/' || coalesce(max(xmin::text::bigint), 0)::text AS v FROM ${t}`).join(' UNION ALL ');
    const { rows } = await this.client.query<{ t: string; v: string }>(sql);
    const out: Record<string, string> = Object.fromEntries(rows.map((r) => [r.t, r.v]));
    // Every queue's lists and sorted sets, in one round trip.
    const queues = this.app.app.get(ServiceQueues).all();
    const pipeline = this.redis.pipeline();
    for (const queue of queues) {
      for (const list of ['wait', 'active', 'paused']) pipeline.llen(`${queue.qualifiedName}:${list}`);
      for (const set of ['delayed', 'prioritized', 'completed', 'failed', 'waiting-children']) pipeline.zcard(`${queue.qualifiedName}:${set}`);
    }
    const counts = ((await pipeline.exec()) ?? []).map(([, n]: [unknown, unknown]) => n);
    queues.forEach((queue, i) => (out[`queue ${queue.name}`] = counts.slice(i * 8, i * 8 + 8).join(',')));
    return out;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.client.end();
  }
}

/**
 * A CIBA poll that is refused as authorization_pending or slow_down records when it polled (that
 * is how slow_down works): approval_requests' newest row version moves, its row count does not.
 */
export function allowedChange(op: Op, res: Sent, table: string, before: string, after: string): boolean {
  const poll = ['POST /v1/approvals/{id}/token', 'POST /oauth/token'].includes(`${op.method} ${op.path}`);
  const pending = /"error":"(authorization_pending|slow_down)"/.test(res.text);
  return poll && pending && table === 'approval_requests' && before?.split('/')[0] === after?.split('/')[0];
}

export function diff(
  before: Record<string, string>,
  after: Record<string, string>,
  allowed: (table: string, b: string, a: string) => boolean = () => false,
): string[] {
  return Object.keys({ ...before, ...after })
    .filter((k) => before[k] !== after[k] && !allowed(k, before[k], after[k]))
    .map((k) => `${k}: ${before[k]} → ${after[k]}`);
}
