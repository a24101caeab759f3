import { Client } from 'pg';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';

type Body = Record<string, any>;

/** A valid park body with the value at a dotted path replaced (`undefined` removes it). */
function withField(path: string, value: unknown, base: Body = parkBody()): Body {
  const body = structuredClone(base);
  const keys = path.split('.');
  let node = body;
  for (const k of keys.slice(0, -1)) node = node[k] ??= {};
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return body;
}
const without = (path: string) => withField(path, undefined);
/**
 * A park body, as JSON text, with raw JSON at a dotted path: for values nested too deep for
 * JSON.stringify to write (the server must still answer 400, not overflow its stack).
 */
class RawBody {
  constructor(readonly text: string) {}
  static with(path: string, rawJson: string): RawBody {
    return new RawBody(JSON.stringify(withField(path, '__RAW__')).replace('"__RAW__"', rawJson));
  }
}
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const actChain = (depth: number) => '{"sub":"a","act":'.repeat(depth) + '{"sub":"z"}' + '}'.repeat(depth);
const send = (url: string, token: string, body: Body | RawBody) =>
  call(url, 'POST', '/v1/approvals', body instanceof RawBody ? { token, rawBody: body.text } : { token, body });
const ping = (delivery: Body) => withField('delivery', { mode: 'ping', ...delivery });
const PING_ENDPOINT = 'http://127.0.0.1:9/callback';

const MAX_EXPIRES_IN = 120;

describe('POST /v1/approvals input validation', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let httpsOnly: TestApp;
  let db: Client;
  let token: string;

  const rows = async () => {
    const r = await db.query<{ requests: string; events: string }>(
      `SELECT (SELECT count(*) FROM approval_requests) AS requests, (SELECT count(*) FROM audit_events) AS events`,
    );
    return { requests: Number(r.rows[0].requests), events: Number(r.rows[0].events) };
  };

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ APPROVAL_MAX_EXPIRES_IN: String(MAX_EXPIRES_IN), APPROVAL_DEFAULT_EXPIRES_IN: '60' });
    // The production posture: https only, one allowed callback host.
    httpsOnly = await env.start({ CALLBACK_ALLOW_HTTP: 'false', CALLBACK_ALLOWED_HOSTS: 'hooks.example.com' });
    db = new Client({ connectionString: env.db.url });
    await db.connect();
    token = await tenantToken('acme', 'gateway-1');
  });
  afterAll(async () => {
    await db?.end();
    await env.teardown();
  });

  describe('every bad field is a 400 that names it, and nothing is written', () => {
    const cases: [string, Body | RawBody, string, string?][] = [
      // [what, body, field, code (default invalid_request)]
      ['tool_call is missing', without('tool_call'), 'tool_call'],
      ['tool_call.server is missing', without('tool_call.server'), 'tool_call.server'],
      ['tool_call.tool is missing', without('tool_call.tool'), 'tool_call.tool'],
      ['tool_call.server is empty', withField('tool_call.server', ''), 'tool_call.server'],
      ['tool_call.arguments is an array', withField('tool_call.arguments', [1, 2]), 'tool_call.arguments'],
      ['tool_call.arguments is a string', withField('tool_call.arguments', 'amount=1'), 'tool_call.arguments'],
      ['tool_call.arguments is larger than 64 KiB', withField('tool_call.arguments', { blob: 'x'.repeat(64 * 1024) }), 'tool_call.arguments'],
      ['tool_call.arguments nests 5000 levels deep', RawBody.with('tool_call.arguments', nested(5000)), 'tool_call.arguments'],
      ['tool_call.arguments nests 65 levels deep', RawBody.with('tool_call.arguments', nested(65)), 'tool_call.arguments'],
      ['risk nests 5000 levels deep', RawBody.with('risk', nested(5000)), 'risk'],
      ['agent.claims has an act chain 5000 deep', RawBody.with('agent.claims.act', actChain(5000)), 'agent.claims' + '.act'.repeat(17)],
      ['agent.claims has an act chain 17 deep', RawBody.with('agent.claims.act', actChain(16)), 'agent.claims' + '.act'.repeat(17)],
      ['agent.claims nests 5000 levels deep', RawBody.with('agent.claims.vc', nested(5000)), 'agent.claims'],
      ['tool_call has an unknown field', withField('tool_call.extra', 1), 'tool_call.extra'],
      ['agent.id is missing', without('agent.id'), 'agent.id'],
      ['agent.trust_level is not a known level', withField('agent.trust_level', 'root'), 'agent.trust_level'],
      ['agent.claims.act has no sub', withField('agent.claims.act', { client_id: 'x' }), 'agent.claims.act.sub'],
      ['a nested act has no sub', withField('agent.claims.act', { sub: 'orchestrator', act: {} }), 'agent.claims.act.act.sub'],
      ['agent.claims.act.sub is not a string', withField('agent.claims.act', { sub: 42 }), 'agent.claims.act.sub'],
      ['delegator.id is missing', without('delegator.id'), 'delegator.id'],
      ['intent.category is not a known category', withField('intent.category', 'hack'), 'intent.category'],
      ['resource.classification is not a known classification', withField('resource.classification', 'secret'), 'resource.classification'],
      ['environment is not a known environment', withField('environment', 'prod'), 'environment'],
      ['reason is missing', without('reason'), 'reason'],
      ['reason is longer than 2000 characters', withField('reason', 'r'.repeat(2001)), 'reason'],
      ['reason contains an escape sequence', withField('reason', 'ok \u001b[2J'), 'reason'],
      ['reason contains a bidi override', withField('reason', 'pay \u202eRUE 52'), 'reason'],
      ['obligation.approvers is empty', withField('obligation.approvers', []), 'obligation.approvers'],
      ['an approver is not user:/group:/delegator', withField('obligation.approvers', ['user:bob', 'bob']), 'obligation.approvers.1'],
      ['an approver is not a string', withField('obligation.approvers', [{ id: 'bob' }]), 'obligation.approvers.0'],
      [
        'more than 100 approvers are named',
        withField(
          'obligation.approvers',
          Array.from({ length: 101 }, (_, i) => `user:u${i}`),
        ),
        'obligation.approvers',
      ],
      ['obligation.quorum is 0', withField('obligation.quorum', 0), 'obligation.quorum'],
      ['obligation.quorum is not an integer', withField('obligation.quorum', 1.5), 'obligation.quorum'],
      ['obligation.quorum is a string', withField('obligation.quorum', '1'), 'obligation.quorum'],
      ['obligation.quorum exceeds the named approvers', withField('obligation.quorum', 3), 'obligation.quorum'],
      ['obligation.deny_threshold exceeds the named approvers', withField('obligation.deny_threshold', 3), 'obligation.deny_threshold'],
      ['obligation.deny_threshold is 0', withField('obligation.deny_threshold', 0), 'obligation.deny_threshold'],
      [
        'obligation.quorum exceeds the distinct named approvers',
        withField('obligation', { approvers: ['user:bob', 'user:bob', 'user:carol'], quorum: 3 }),
        'obligation.quorum',
      ],
      ['obligation.expires_in is 0', withField('obligation.expires_in', 0), 'obligation.expires_in'],
      ['obligation.expires_in is negative', withField('obligation.expires_in', -5), 'obligation.expires_in'],
      [
        'obligation.binding_message is longer than 256 characters',
        withField('obligation.binding_message', 'b'.repeat(257)),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      ['obligation.binding_message is empty', withField('obligation.binding_message', ''), 'obligation.binding_message', 'invalid_binding_message'],
      [
        'obligation.binding_message contains BEL',
        withField('obligation.binding_message', 'Pay\u0007'),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      [
        'obligation.binding_message contains an ANSI escape',
        withField('obligation.binding_message', '\u001b[8mhidden'),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      [
        'obligation.binding_message contains a C1 control',
        withField('obligation.binding_message', 'Pay \u009b2J'),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      [
        'obligation.binding_message contains a bidi override',
        withField('obligation.binding_message', 'Pay \u202e0005 EUR'),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      [
        'obligation.binding_message spans two lines',
        withField('obligation.binding_message', 'Pay 5 EUR\nand 25,000 EUR'),
        'obligation.binding_message',
        'invalid_binding_message',
      ],
      ['delivery.mode is not poll, ping or push', withField('delivery', { mode: 'email' }), 'delivery.mode'],
      ['ping mode has no notification_endpoint', ping({ notification_token: 'tok' }), 'delivery.notification_endpoint'],
      ['push mode has no notification_endpoint', withField('delivery', { mode: 'push', notification_token: 'tok' }), 'delivery.notification_endpoint'],
      [
        'the endpoint host is not in CALLBACK_ALLOWED_HOSTS',
        ping({ notification_endpoint: 'http://169.254.169.254/latest/meta-data', notification_token: 'tok' }),
        'delivery.notification_endpoint',
      ],
      [
        'the endpoint host only starts like an allowed host',
        ping({ notification_endpoint: 'http://127.0.0.1.evil.example/cb', notification_token: 'tok' }),
        'delivery.notification_endpoint',
      ],
      [
        'the endpoint carries credentials',
        ping({ notification_endpoint: 'http://user:pw@127.0.0.1:9/cb', notification_token: 'tok' }),
        'delivery.notification_endpoint',
      ],
      ['the endpoint is not a URL', ping({ notification_endpoint: 'callback', notification_token: 'tok' }), 'delivery.notification_endpoint'],
      ['the endpoint uses another scheme', ping({ notification_endpoint: 'file:///etc/passwd', notification_token: 'tok' }), 'delivery.notification_endpoint'],
      [
        'ping mode has no notification_token',
        ping({ notification_endpoint: PING_ENDPOINT }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'push mode has no notification_token',
        withField('delivery', { mode: 'push', notification_endpoint: PING_ENDPOINT }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'notification_token is empty',
        ping({ notification_endpoint: PING_ENDPOINT, notification_token: '' }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'notification_token contains a space',
        ping({ notification_endpoint: PING_ENDPOINT, notification_token: 'abc def' }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'notification_token has "=" before its end',
        ping({ notification_endpoint: PING_ENDPOINT, notification_token: 'ab=cd' }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'notification_token contains a line break',
        ping({ notification_endpoint: PING_ENDPOINT, notification_token: 'abc\r\nX-Injected: 1' }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'notification_token is longer than 1024 characters',
        ping({ notification_endpoint: PING_ENDPOINT, notification_token: 'a'.repeat(1025) }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      [
        'poll mode names a notification_endpoint',
        withField('delivery', { mode: 'poll', notification_endpoint: PING_ENDPOINT }),
        'delivery.notification_endpoint',
      ],
      [
        'poll mode names a notification_token',
        withField('delivery', { mode: 'poll', notification_token: 'tok' }),
        'delivery.notification_token',
        'invalid_client_notification_token',
      ],
      ['an unknown top-level field is sent', withField('callback_url', 'http://127.0.0.1/x'), 'callback_url'],
      ['the body is a JSON array', [parkBody()] as unknown as Body, 'body'],
    ];

    it.each(cases)('%s', async (_what, body, field, code = 'invalid_request') => {
      const before = await rows();
      const res = await send(api.url, token, body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: code, field });
      expect(res.body.error_description).toContain(field);
      expect(await rows()).toEqual(before);
    });

    it('an http endpoint is refused when CALLBACK_ALLOW_HTTP=false, even on an allowed host', async () => {
      const before = await rows();
      const body = ping({ notification_endpoint: 'http://hooks.example.com/cb', notification_token: 'tok' });
      const res = await call(httpsOnly.url, 'POST', '/v1/approvals', { token, body });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field: 'delivery.notification_endpoint' });
      expect(res.body.error_description).toMatch(/https/);
      expect(await rows()).toEqual(before);
    });

    it.each([
      ['malformed JSON', '{"tool_call": {'],
      ['an empty body', ''],
      ['a bare word', 'hello'],
    ])('a body that is %s is 400 invalid_request, never a server error', async (_what, rawBody) => {
      const before = await rows();
      const res = await call(api.url, 'POST', '/v1/approvals', { token, rawBody });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(await rows()).toEqual(before);
    });

    it('a body of JSON null is 400 invalid_request naming the first missing field', async () => {
      const res = await call(api.url, 'POST', '/v1/approvals', { token, rawBody: 'null' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request', field: 'tool_call' });
    });

    it('every problem is listed in errors, the first one names the error', async () => {
      const body = withField('environment', 'prod', withField('reason', ''));
      const res = await call(api.url, 'POST', '/v1/approvals', { token, body });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['environment', 'reason']);
      expect(res.body.field).toBe(res.body.errors[0].field);
    });
  });

  describe('a valid request', () => {
    it('creates the row and an approval.created audit event before answering', async () => {
      const res = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody() });
      expect(res.status).toBe(200);
      const id = res.body.auth_req_id;
      const row = await db.query(`SELECT tenant_id, status, gateway_id, reason FROM approval_requests WHERE id = $1`, [id]);
      expect(row.rows).toEqual([{ tenant_id: 'acme', status: 'pending', gateway_id: 'gateway-1', reason: parkBody().reason }]);
      const events = await db.query(`SELECT type, tenant_id, actor FROM audit_events WHERE approval_id = $1 ORDER BY id`, [id]);
      // The initial notification round is part of parking (its deliveries are owed from the start).
      expect(events.rows).toEqual([
        { type: 'approval.created', tenant_id: 'acme', actor: 'gateway:gateway-1' },
        { type: 'approval.notified', tenant_id: 'acme', actor: 'system' },
      ]);
    });

    it('without expires_in, gets APPROVAL_DEFAULT_EXPIRES_IN', async () => {
      const res = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody() });
      expect(res.body.expires_in).toBe(60);
    });

    it('an expires_in above APPROVAL_MAX_EXPIRES_IN is capped to it', async () => {
      const res = await call(api.url, 'POST', '/v1/approvals', { token, body: withField('obligation.expires_in', 100_000) });
      expect(res.status).toBe(200);
      expect(res.body.expires_in).toBe(MAX_EXPIRES_IN);
      const row = await db.query(`SELECT extract(epoch FROM expires_at - created_at) AS secs FROM approval_requests WHERE id = $1`, [res.body.auth_req_id]);
      expect(Number(row.rows[0].secs)).toBeCloseTo(MAX_EXPIRES_IN, 0);
    });

    it('free-form JSON may nest 64 levels deep, and an act chain 16 actors', async () => {
      expect((await send(api.url, token, RawBody.with('tool_call.arguments', nested(63)))).status).toBe(200);
      expect((await send(api.url, token, RawBody.with('agent.claims.act', actChain(15)))).status).toBe(200);
    });

    it('a binding message, reason and approvers may be at their limits', async () => {
      const body = withField(
        'obligation',
        {
          approvers: Array.from({ length: 100 }, (_, i) => `user:u${i}`),
          quorum: 100,
          binding_message: 'Zahlung 25.000 € an ACME GmbH — ✓'.padEnd(256, '.'),
        },
        withField('reason', 'Line one\nLine two\tindented '.padEnd(2000, 'x')),
      );
      const res = await call(api.url, 'POST', '/v1/approvals', { token, body });
      expect(res.status).toBe(200);
    });

    it('auth_req_id carries at least 160 random bits: 32 base64url characters, distinct across 200 requests', async () => {
      const ids = await Promise.all(
        Array.from({ length: 200 }, async () => {
          const res = await call(api.url, 'POST', '/v1/approvals', { token, body: parkBody() });
          expect(res.status).toBe(200);
          return res.body.auth_req_id as string;
        }),
      );
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(new Set(ids).size).toBe(200);
      // 32 base64url characters hold 192 bits; check the characters actually vary (not a padded counter).
      const alphabet = new Set(ids.join(''));
      expect(alphabet.size).toBeGreaterThan(60);
    });
  });
});
