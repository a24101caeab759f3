/**
 * Properties of POST /v1/authorize over real HTTP (fast-check): whatever a gateway sends, the
 * answer is a decision or a client error, never a server error; the status always matches the
 * verdict; only decisions are audited; and nothing is allowed on a server the agent holds no
 * delegation for (deny by default), whatever else the envelope says.
 */
import fc from 'fast-check';
import { importJWK, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { amountOf } from '../../src/authz/call-facts';
import { call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken, prepareTestKeys, TEST_AGENT_ISSUER } from '../support/keys';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);
const STATUS_OF = { allow: 200, allow_with_obligations: 202, deny: 403 } as const;
const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('POST /v1/authorize properties', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;
  let admin: string;
  /** Agents with delegations on docs/*, payments/* and crm/sync_contacts; a chain human → orchestrator → sub-agent. */
  let tokens: string[];

  /** One connection for the many reads the properties make. */
  let db: Client;
  const decisions = async () => (await db.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'authz.decision'`)).rows[0].n as number;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    db = new Client({ connectionString: env.db.url });
    await db.connect();
    gateway = await tenantToken('acme', 'gateway-1');
    admin = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:admin countersign:delegations' });
    const grant = async (body: Record<string, unknown>) => {
      const res = await call(api.url, 'POST', '/v1/delegations', { token: admin, body });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    await grant({ human: 'alice', agent: 'solo', tools: ['docs/*', 'payments/*', 'crm/sync_contacts'] });
    const parent = await grant({ human: 'alice', agent: 'orchestrator', tools: ['docs/*', 'payments/*'] });
    await grant({ human: 'alice', agent: 'sub-agent', tools: ['docs/*'], parent_id: parent });
    tokens = [
      await agentToken({ human: 'alice', actors: ['solo'] }),
      await agentToken({ human: 'alice', actors: ['solo'], trust: 'third_party' }),
      await agentToken({ human: 'alice', actors: ['sub-agent', 'orchestrator'] }),
    ];
  });
  afterAll(async () => {
    await db?.end();
    await env.teardown();
  });

  // ---- generators ----------------------------------------------------------------------

  // A "__proto__" key is refused by the JSON parser itself (400, prototype poisoning): another property.
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('"__proto__"'));
  const str = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('', ' ', '\u0000', '\u202e', 'x'.repeat(600)),
  );
  /** A field that is sometimes valid, sometimes any JSON, sometimes a random string. */
  const maybe = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 10, arbitrary: good }, { weight: 1, arbitrary: json }, { weight: 1, arbitrary: str });

  const amount = fc.oneof(
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(9_999.5, 10_000, 1e20, -1e300, 2 ** 63, Number.MAX_SAFE_INTEGER),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    fc.string({ maxLength: 12 }),
  );
  const args = fc.oneof(
    fc.record(
      {
        amount,
        to: fc.constantFrom('DE89370400440532013000', 'ops@acme.example', 'x@evil.example', 'https://evil.example/hook', 'not a url'),
        url: fc.webUrl(),
        all: fc.boolean(),
        ids: fc.array(fc.string({ maxLength: 4 }), { maxLength: 40 }),
        filter: fc.constantFrom('*', 'all users', 'one'),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(
      fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__'),
      json,
      { maxKeys: 5 },
    ),
  );
  const action = fc.record(
    {
      server: maybe(fc.constantFrom('docs', 'payments', 'crm', 'hr')),
      tool: maybe(fc.constantFrom('read_document', 'search_docs', 'transfer_funds', 'sync_contacts', 'delete_order', 'export_all', 'frobnicate')),
      method: maybe(fc.constant('tools/call')),
      arguments: maybe(args),
    },
    { requiredKeys: ['server', 'tool'] },
  );
  /** A JWT-shaped string with random header and claims and a junk signature. */
  const forgedJwt = fc.tuple(json, json, fc.string({ maxLength: 20 })).map(([h, p, s]) => `${b64(JSON.stringify(h))}.${b64(JSON.stringify(p))}.${b64(s)}`);
  const agent = fc.oneof(
    { weight: 10, arbitrary: fc.record({ token: fc.integer({ min: 0, max: 2 }).map((i) => tokens[i]) }) },
    { weight: 1, arbitrary: fc.record({ token: fc.oneof(forgedJwt, str) }) },
    { weight: 1, arbitrary: json },
  );
  const baseEnvelope = fc.record(
    {
      agent,
      action: fc.oneof({ weight: 10, arbitrary: action }, { weight: 1, arbitrary: json }),
      intent: maybe(
        fc.record(
          { category: fc.constantFrom('read', 'search', 'export', 'pay', 'delete', 'admin', 'other'), text: fc.string({ minLength: 1, maxLength: 30 }) },
          { requiredKeys: [] },
        ),
      ),
      resource: maybe(
        fc.record(
          {
            id: fc.string({ minLength: 1, maxLength: 10 }),
            type: fc.constant('doc'),
            classification: fc.constantFrom('public', 'internal', 'confidential', 'restricted', 'pii'),
          },
          { requiredKeys: [] },
        ),
      ),
      environment: maybe(fc.constantFrom('dev', 'staging', 'production')),
      reason: maybe(fc.string({ minLength: 1, maxLength: 50 })),
      risk: maybe(
        fc.record(
          {
            signals: fc.array(fc.constantFrom('new_device', 'bulk', 'external_destination', 'malware_suspected', 'credential_leak', 'tor'), { maxLength: 4 }),
            network: fc.constantFrom('tor', 'corp'),
          },
          { requiredKeys: [] },
        ),
      ),
      correlation: maybe(fc.record({ mcp_session_id: fc.uuid(), request_id: fc.string({ minLength: 1, maxLength: 10 }) }, { requiredKeys: [] })),
      delivery: maybe(fc.constantFrom({ mode: 'poll' }, { mode: 'ping', notification_endpoint: 'http://127.0.0.1:9/cb', notification_token: 'tok-123' })),
    },
    { requiredKeys: ['agent', 'action'] },
  );
  /** Now and then an extra top-level field (unknown to the schema, or a known one with any value). */
  const envelope = fc
    .tuple(
      baseEnvelope,
      fc.option(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('agent', 'verdict', '__proto__', 'constructor')), json), { freq: 4 }),
    )
    .map(([body, extra]) => (extra ? { ...body, [extra[0]]: extra[1] } : body));

  const checkAnswer = (res: { status: number; body: any }) => {
    expect([200, 202, 400, 403]).toContain(res.status);
    if (res.status === 400) {
      expect(typeof res.body.error).toBe('string');
      expect(typeof res.body.error_description).toBe('string');
      return;
    }
    // A decision: the status is the verdict's, and a parked call has an auth_req_id.
    expect(STATUS_OF[res.body.verdict as keyof typeof STATUS_OF]).toBe(res.status);
    expect(res.body.decision_id).toMatch(/^dec_/);
    expect(Array.isArray(res.body.reasons)).toBe(true);
    if (res.status === 202) expect(typeof res.body.auth_req_id).toBe('string');
    else expect(res.body).not.toHaveProperty('auth_req_id');
  };

  // ---- properties --------------------------------------------------------------------------

  it('random envelopes never produce a server error: only 200/202/400/403, the status matching the verdict', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(envelope, async (body) => {
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body });
        seen.add(res.status);
        checkAnswer(res);
      }),
      // Random envelopes are mostly refused; these two make sure both kinds of answer are always checked.
      {
        numRuns: RUNS,
        examples: [
          [{ agent: { token: 'not-a-jwt' }, action: { server: 'docs', tool: 'read_document', arguments: {} } }],
          [{ agent: {}, action: 'not an action' }],
        ] as never,
      },
    );
    // The generators reach both refusals and decisions.
    expect(seen.has(400)).toBe(true);
    expect([...seen].some((s) => s !== 400)).toBe(true);
  });

  it('a decision is audited exactly once and a rejected envelope not at all', async () => {
    await fc.assert(
      fc.asyncProperty(envelope, async (body) => {
        const before = await decisions();
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body });
        checkAnswer(res);
        const after = await decisions();
        expect(after - before).toBe(res.status === 400 ? 0 : 1);
        if (res.status !== 400) {
          const {
            rows: [row],
          } = await db.query(`SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [res.body.decision_id]);
          expect(row.data.verdict).toBe(res.body.verdict);
          // The agent's credential itself is never stored, only its verified claims.
          expect(JSON.stringify(row.data)).not.toContain(tokens[0]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  /** An agent token with these claims, signed by the trusted agent issuer. */
  const signedAgentToken = async (claims: Record<string, unknown>) => {
    const jwk = JSON.parse(readFileSync((await prepareTestKeys()).gatewayPrivateKeyFile, 'utf8'));
    return new SignJWT(claims)
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid })
      .setIssuer(TEST_AGENT_ISSUER)
      .setAudience('countersign')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK(jwk, jwk.alg));
  };

  // Found by the property below: a signed token with "sub": null reached the delegation lookup and
  // failed there with a 500. RFC 7519 makes sub a string; anything else is a bad agent token.
  it.each([[null], [123], [{}], [['alice']], [true]])(
    'a signed agent token whose sub is %j is denied as a bad agent token, never a server error',
    async (sub) => {
      const token = await signedAgentToken({ sub, tenant: 'acme', act: { sub: 'solo' } });
      const res = await call(api.url, 'POST', '/v1/authorize', {
        token: gateway,
        body: { agent: { token }, action: { server: 'docs', tool: 'read_document', arguments: {} }, correlation: { mcp_session_id: randomUUID() } },
      });
      expect(res.status).toBe(403);
      expect(res.body.verdict).toBe('deny');
      expect(res.body.reasons[0]).toMatch(/^agent_token_/);
    },
  );

  it('agent tokens with random claims, signed by the trusted issuer, are decided (never a server error)', async () => {
    const claims = fc.record(
      {
        sub: fc.oneof(fc.constant('alice'), json),
        act: fc.oneof(fc.constant({ sub: 'solo' }), fc.constant({ sub: 'sub-agent', act: { sub: 'orchestrator' } }), json),
        tenant: fc.oneof(fc.constant('acme'), json),
        trust_level: json,
        agent_class: json,
        nbf: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), json),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(claims, async (c) => {
        const token = await signedAgentToken(c as Record<string, unknown>);
        const res = await call(api.url, 'POST', '/v1/authorize', {
          token: gateway,
          body: { agent: { token }, action: { server: 'docs', tool: 'read_document', arguments: {} }, correlation: { mcp_session_id: randomUUID() } },
        });
        expect([200, 202, 403]).toContain(res.status);
        checkAnswer(res);
      }),
      { numRuns: RUNS },
    );
  });

  it('deny by default: any tool on a server the agent holds no delegation for is 403, whatever the rest of the envelope says', async () => {
    const server = fc
      .oneof(fc.stringMatching(/^[a-z][a-z0-9_-]{0,19}$/), fc.string({ minLength: 1, maxLength: 20 }))
      .filter((s) => !['docs', 'payments', 'crm'].includes(s) && !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s));
    const tool = fc.oneof(
      fc.stringMatching(/^[a-z][a-z_]{0,24}$/),
      fc.constantFrom('read_document', 'search_docs', 'list_events', 'create_event', 'transfer_funds', 'sync_contacts', 'delete_order', 'grant_role'),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s)),
    );
    const rest = fc.record({
      intent: fc.record({ category: fc.constantFrom('read', 'search', 'summarize', 'export', 'write', 'delete', 'pay', 'admin', 'other') }),
      resource: fc.record({ classification: fc.constantFrom('public', 'internal', 'confidential', 'restricted', 'pii') }),
      environment: fc.constantFrom('dev', 'staging', 'production'),
      reason: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `r${s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '')}`),
      risk: fc.record({ signals: fc.array(fc.constantFrom('new_device', 'bulk', 'external_destination'), { maxLength: 3 }) }),
    });
    await fc.assert(
      fc.asyncProperty(server, tool, fc.integer({ min: 0, max: 2 }), args, rest, async (s, t, who, a, r) => {
        const body = { agent: { token: tokens[who] }, action: { server: s, tool: t, arguments: a }, ...r, correlation: { mcp_session_id: randomUUID() } };
        const res = await call(api.url, 'POST', '/v1/authorize', { token: gateway, body });
        expect(res.status).toBe(403);
        expect(res.body.verdict).toBe('deny');
        expect(res.body.obligations).toEqual([]);
        expect(res.body).not.toHaveProperty('auth_req_id');
        // An amount outside Cedar's 64-bit Long fails the evaluation: still a denial (fail closed).
        const n = amountOf(a as Record<string, unknown>);
        const outOfRange = n !== null && (n >= 2 ** 63 || n < -(2 ** 63));
        expect(res.body.reasons).toContain(outOfRange ? 'policy_evaluation_failed' : 'not_delegated');
      }),
      { numRuns: RUNS },
    );
    // Nothing was parked for any of them.
    expect((await sql(env.db.url, `SELECT count(*)::int AS n FROM approval_requests WHERE tool_call->>'server' NOT IN ('docs', 'payments', 'crm')`))[0].n).toBe(
      0,
    );
  });

  it('a sub-agent never gets more than its parent granted: tools outside the chain are denied', async () => {
    // sub-agent holds docs/* only (via orchestrator, which also holds payments/*).
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('payments', 'crm'),
        fc.constantFrom('transfer_funds', 'sync_contacts', 'read_balance', 'search_ledger'),
        async (server, tool) => {
          const res = await call(api.url, 'POST', '/v1/authorize', {
            token: gateway,
            body: {
              agent: { token: tokens[2] },
              action: { server, tool, arguments: { amount: 1 } },
              reason: 'r',
              correlation: { mcp_session_id: randomUUID() },
            },
          });
          expect(res.status).toBe(403);
          expect(res.body.verdict).toBe('deny');
        },
      ),
      { numRuns: 20 },
    );
  });
});
