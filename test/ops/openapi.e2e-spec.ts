import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApiApp } from '../../src/bootstrap';
import { call } from '../support/api';
import { testEnvironment, TestEnvironment } from '../support/app';
import { gatewayToken } from '../support/keys';

/** Served routes the document leaves out on purpose, and why. */
const NOT_API: { pattern: RegExp; why: string }[] = [
  { pattern: /^\/docs(\/|$)/, why: 'the documentation itself: the UI, its assets and the JSON document' },
  { pattern: /^\/admin\/queues(\/|$)/, why: "bull-board's dashboard: its own pages and internal API, behind the admin cookie" },
  { pattern: /^\/approve\/assets\//, why: "the approval page's stylesheet and script" },
  { pattern: /^\/sw\.js$/, why: "the approval page's service worker" },
  { pattern: /^\/favicon\.ico$/, why: 'an empty answer for browsers that ask' },
];

/** Operations whose errors are not the JSON Error body, and why. */
const HTML_ERRORS: Record<string, string> = {
  'GET /approve/{id}': "the approver's page: every failure is an HTML page the approver can read",
  'POST /approve/{id}': "the page's form post: every failure is an HTML page the approver can read",
  'GET /approve/standing': "the approver's standing approvals page: every failure is an HTML page the approver can read",
  'POST /approve/standing': 'its revoke form post: every failure is an HTML page the approver can read',
  'GET /review/{id}': "the reviewer's page for a sampled call: every failure is an HTML page the reviewer can read",
  'POST /review/{id}': 'its answer form post: every failure is an HTML page the reviewer can read',
  'GET /approve/batch': "the approver's batch review page: every failure is an HTML page the approver can read",
  'POST /approve/batch': 'its form post: every failure is an HTML page the approver can read',
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'] as const;
const ERROR_REF = '#/components/schemas/Error';

type Operation = {
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: { content: Record<string, { schema?: Record<string, any> }> };
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, any> } };

/** `/v1/approvals/:id` → `/v1/approvals/{id}`, as OpenAPI writes paths. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}');
const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

function operations(doc: Document): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] })));
}

/** Every handler that reads the body with @Body(), from Nest's own route metadata. */
function handlersWithBody(app: NestFastifyApplication): string[] {
  const found: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!controller?.prototype) continue;
      const base = [Reflect.getMetadata(PATH_METADATA, controller)].flat()[0] ?? '';
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[name as keyof object] as unknown;
        if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const args: Record<string, unknown> = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {};
        if (!Object.keys(args).some((k) => k.split(':')[0] === String(RouteParamtypes.BODY))) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        for (const sub of [Reflect.getMetadata(PATH_METADATA, handler)].flat()) {
          found.push(key(method, openApiPath(`/${base}/${sub ?? ''}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'))));
        }
      }
    }
  }
  return found;
}

function resolve(doc: Document, schema: { $ref?: string } | undefined): Record<string, any> | undefined {
  if (!schema?.$ref) return schema;
  return doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

describe('the OpenAPI document at /docs', () => {
  let env: TestEnvironment;
  let app: NestFastifyApplication;
  let url: string;
  let doc: Document;
  /** What the running Fastify instance serves, as "METHOD /path". */
  const served = new Set<string>();

  beforeAll(async () => {
    env = await testEnvironment();
    app = await createApiApp(await env.config());
    // Routes are added when the app initialises: the hook sees every controller and plugin route.
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (route) => {
        for (const method of [route.method].flat()) {
          if (method !== 'HEAD') served.add(key(method, openApiPath(route.url)));
        }
      });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const res = await call<Document>(url, 'GET', '/docs/json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    doc = res.body;
  });
  afterAll(async () => {
    await app?.close();
    await env?.teardown();
  });

  it('serves the Swagger UI as HTML, with its assets, under a CSP that restricts framing but not its scripts', async () => {
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // The approval page's strict CSP (no inline, self only) is its own; here it would block the UI.
    // Every HTML page gets the framing/base/object directives (common/http/security-headers.ts), no source list.
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/default-src|script-src|style-src/);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui-init.js', '/docs/swagger-ui.css']) {
      const res = await fetch(url + asset);
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
    }
  });

  it('is OpenAPI 3 whose every $ref resolves, with bearer schemes for gateways and approver links', () => {
    expect(doc.openapi).toMatch(/^3\./);
    for (const ref of refsIn(doc)) expect(resolve(doc, { $ref: ref })).toBeDefined();
    expect((doc as any).components.securitySchemes).toMatchObject({
      gateway: { type: 'http', scheme: 'bearer' },
      approver_link: { type: 'http', scheme: 'bearer' },
    });
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error', 'error_description'] });
  });

  it('documents every route the server serves, and serves every route it documents', () => {
    const api = [...served].filter((route) => !NOT_API.some(({ pattern }) => pattern.test(route.split(' ')[1])));
    expect(api.length).toBeGreaterThan(10);
    const documented = new Set(operations(doc).map(({ method, path }) => key(method, path)));
    expect(api.filter((route) => !documented.has(route))).toEqual([]);
    expect([...documented].filter((route) => !served.has(route))).toEqual([]);
  });

  it('says for every operation which credential it takes', () => {
    const schemes = Object.keys((doc as any).components.securitySchemes);
    const problems = operations(doc).flatMap(({ method, path, op }) => {
      if (!op.security?.length) return [`${key(method, path)}: no security (@ApiGatewayAuth, @ApiApproverLinkAuth or @ApiPublic)`];
      const unknown = op.security.flatMap((r) => Object.keys(r)).filter((s) => !schemes.includes(s));
      return unknown.map((s) => `${key(method, path)}: unknown security scheme ${s}`);
    });
    expect(problems).toEqual([]);
  });

  it('documents for every operation the 4xx errors it answers, as the Error schema', () => {
    const problems = operations(doc).flatMap(({ method, path, op }) => {
      const where = key(method, path);
      const errors = Object.entries(op.responses).filter(([status]) => /^4/.test(status));
      if (HTML_ERRORS[where]) {
        return errors.length && errors.every(([, r]) => r.content?.['text/html']) ? [] : [`${where}: its 4xx pages are not documented as text/html`];
      }
      const security = op.security ?? [];
      // Public and without input: there is nothing a caller can get wrong.
      if (!op.parameters?.length && !op.requestBody && security.length && security.every((r) => !Object.keys(r).length)) return [];
      const found: string[] = [];
      if (!errors.some(([, r]) => r.content?.['application/json']?.schema?.$ref === ERROR_REF)) found.push(`${where}: no 4xx with the Error schema`);
      // Behind a credential: the credential's 401; with a scope, also its 403.
      if (security.some((r) => Object.keys(r).length) && !op.responses['401']) found.push(`${where}: no 401`);
      if (security.some((r) => Object.values(r).some((scopes) => scopes.length)) && !op.responses['403']) found.push(`${where}: no 403`);
      if (op.requestBody && !op.responses['400']) found.push(`${where}: a validated body but no 400`);
      return found;
    });
    expect(problems).toEqual([]);
  });

  it('documents a request body wherever a handler reads one', () => {
    const withBody = handlersWithBody(app);
    expect(withBody).toContain('POST /v1/approvals');
    const ops = new Map(operations(doc).map(({ method, path, op }) => [key(method, path), op]));
    const missing = withBody.filter((where) => {
      const content = Object.values(ops.get(where)?.requestBody?.content ?? {});
      // A schema with its fields, not the bare `{type: object}` Nest infers from `@Body() body: unknown`.
      return !content.some((c) => Object.keys(resolve(doc, c.schema)?.properties ?? {}).length > 0);
    });
    expect(missing).toEqual([]);
  });

  it('generates request schemas from the zod schemas that validate them', () => {
    const park = resolve(doc, doc.paths['/v1/approvals'].post.requestBody!.content['application/json'].schema);
    expect(park).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { tool_call: { type: 'object', additionalProperties: false, required: ['server', 'tool'] } },
    });
    expect(park!.required).toEqual(expect.arrayContaining(['tool_call', 'agent', 'delegator', 'reason', 'obligation']));
    // Defaults make a field optional for the caller (io: 'input').
    expect(park!.required).not.toContain('risk');
    // The one-set quorum defaults to 1 in the handler (it must not be given beside approver_sets); each set's quorum in the schema.
    expect(park!.properties.obligation.properties.quorum).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    expect(park!.properties.obligation.properties.approver_sets.items.properties.quorum).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 1,
    });
    const audit = doc.paths['/v1/audit'].get.parameters as { name: string; in: string; schema: any }[];
    expect(audit.find((p) => p.name === 'limit')).toMatchObject({ in: 'query', schema: { type: 'integer', maximum: 1000 } });
  });

  it('matches what the guard enforces: 401 without the credential, 403 without the scope', async () => {
    const unscoped = await gatewayToken({ tenant: 'acme', sub: 'gateway-1' });
    const problems: string[] = [];
    let checked = 0;
    for (const { method, path, op } of operations(doc)) {
      const secured = (op.security ?? []).filter((r) => Object.keys(r).length > 0);
      if (!secured.length) continue;
      // Any value for a path parameter: the guard answers before the handler reads it.
      const target = path.replace(/\{[^}]+\}/g, 'x');
      const anonymous = await call(url, method.toUpperCase(), target);
      if (anonymous.status !== 401) problems.push(`${key(method, path)}: ${anonymous.status} without a credential`);
      if (secured.some((r) => r.gateway?.length)) {
        const res = await call(url, method.toUpperCase(), target, { token: unscoped });
        if (res.status !== 403 || res.body?.error !== 'insufficient_scope') problems.push(`${key(method, path)}: ${res.status} without the scope`);
      }
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});
