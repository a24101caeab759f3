import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ChainedContent, contentHashOf, eventHash, SEALED_EVENTS } from '../../src/audit/audit-chain';
import { canonicalJson } from '../../src/common/canonical-json';
import { AuditCheckpoints } from '../../src/audit/audit-checkpoints.service';
import { AuditLog } from '../../src/audit/audit-log.service';
import { AuditSealer } from '../../src/audit/audit-sealer.service';
import { DataSource } from 'typeorm';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { gatewayToken, prepareTestKeys } from '../support/keys';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

describe('the tamper-evident audit log', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let second: TestApp;
  const checkpointFile = join(mkdtempSync(join(tmpdir(), 'countersign-checkpoints-')), 'checkpoints.jsonl');

  beforeAll(async () => {
    env = await testEnvironment();
    // The timers would race the test's own sealing; the test drives sealing and checkpoints itself.
    const quiet = { AUDIT_SEAL_INTERVAL_MS: '60000', AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0', AUDIT_CHECKPOINT_FILE: checkpointFile };
    api = await env.start(quiet);
    second = await env.start(quiet);
  });
  afterAll(() => env.teardown());

  const auditor = (tenant: string) => gatewayToken({ tenant, sub: 'auditor', scope: 'countersign:audit' });
  const verify = async (tenant: string) => (await call(api.url, 'GET', '/v1/audit/verify', { token: await auditor(tenant) })).body;
  const seal = () => api.app.get(AuditSealer).sealAll();

  /** Writes n events for a tenant as the service does, seals them, and signs a checkpoint. */
  async function chainOf(tenant: string, n: number, checkpoint = true): Promise<void> {
    const log = api.app.get(AuditLog);
    const ds = api.app.get(DataSource);
    for (let i = 0; i < n; i++) {
      await log.append(ds.manager, {
        tenantId: tenant,
        type: 'test.event',
        actor: 'test',
        agentId: `agent-${i % 3}`,
        data: { i, amount: 10.5 * i, nested: { ok: true } },
      });
    }
    await seal();
    if (checkpoint) await api.app.get(AuditCheckpoints).checkpointAll();
  }

  /** As a database superuser would: with triggers off (session_replication_role = replica). */
  async function asSuperuser(statement: string, params: unknown[] = []): Promise<void> {
    const c = new Client({ connectionString: env.db.url });
    await c.connect();
    try {
      await c.query(`SET session_replication_role = replica`);
      await c.query(statement, params);
    } finally {
      await c.end();
    }
  }
  const row = async (tenant: string, seq: number) =>
    (await sql<{ id: string }>(env.db.url, `SELECT event_id::text AS id FROM audit_seals WHERE tenant_id = $1 AND seq = $2`, [tenant, seq]))[0];

  it('events the service writes are sealed into one chain per tenant, and the chain verifies', async () => {
    const gateway = await tenantToken('acme');
    const parked = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody() });
    expect(parked.status).toBe(200);
    await seal();
    const rows = await sql<{ chain_seq: string; prev_hash: string; hash: string }>(
      env.db.url,
      `SELECT seq::text AS chain_seq, prev_hash, hash FROM audit_seals WHERE tenant_id = 'acme' ORDER BY seq`,
    );
    // Every event is sealed, however it was written (the park writes its events inside a larger statement).
    const [{ events }] = await sql<{ events: number }>(env.db.url, `SELECT count(*)::int AS events FROM audit_events WHERE tenant_id = 'acme'`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows).toHaveLength(events);
    rows.forEach((r, i) => {
      expect(r.chain_seq).toBe(String(i + 1));
      expect(r.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1].hash);
      expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    });
    const report = await verify('acme');
    expect(report).toMatchObject({ tenant: 'acme', ok: true, verified: rows.length, unsealed: 0, first_break: null });
    expect(report.head).toEqual({ tenant: 'acme', seq: String(rows.length), hash: rows[rows.length - 1].hash });
  });

  it('the hash is recomputable by anyone from the stored columns (RFC 8785 canonical JSON, SHA-256)', async () => {
    await chainOf('recompute', 3, false);
    const rows = await sql<ChainedContent & { chain_seq: string; prev_hash: string; hash: string }>(
      env.db.url,
      `${SEALED_EVENTS} WHERE s.tenant_id = 'recompute' ORDER BY s.seq`,
    );
    for (const r of rows) expect(eventHash(r, r.chain_seq, r.prev_hash)).toBe(r.hash);
  });

  it('the database refuses to change or remove events, and to reseal a sealed one', async () => {
    await chainOf('locked', 2, false);
    const { id } = await row('locked', 1);
    await expect(sql(env.db.url, `UPDATE audit_events SET data = '{"i": 99}' WHERE id = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `UPDATE audit_seals SET hash = repeat('a', 64) WHERE event_id = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `DELETE FROM audit_seals WHERE event_id = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `TRUNCATE audit_seals`)).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `DELETE FROM audit_events WHERE id = $1`, [id])).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
    expect(await api.app.get(AuditCheckpoints).checkpointAll()).not.toHaveLength(0);
    await expect(sql(env.db.url, `DELETE FROM audit_checkpoints`)).rejects.toThrow(/append-only/);
    await expect(sql(env.db.url, `UPDATE audit_checkpoints SET hash = repeat('0', 64)`)).rejects.toThrow(/append-only/);
  });

  /** As an attacker who knows the format: the event's data replaced and its content hash recomputed to match. */
  async function forgeData(id: string, data: Record<string, unknown>): Promise<void> {
    const [event] = await sql<ChainedContent>(env.db.url, `${SEALED_EVENTS} WHERE s.event_id = $1`, [id]);
    const forgedHash = contentHashOf(event, canonicalJson(data));
    await asSuperuser(`UPDATE audit_events SET data = $1, content_hash = $2 WHERE id = $3`, [JSON.stringify(data), forgedHash, id]);
  }

  describe('verify finds every kind of tampering, and says exactly where', () => {
    it('events written by the service are v2 links: their content hashed when written, their seal chaining that hash', async () => {
      await chainOf('v2', 3);
      const rows = await sql<ChainedContent & { chain_seq: string; prev_hash: string; hash: string }>(
        env.db.url,
        `${SEALED_EVENTS} WHERE s.tenant_id = 'v2' ORDER BY s.seq`,
      );
      expect(rows).toHaveLength(3);
      for (const r of rows) {
        expect(r.content_hash).toBe(contentHashOf(r, canonicalJson(r.data)));
        // The seal is the v2 formula over the content hash: with a different content hash it would differ.
        expect(eventHash(r, r.chain_seq, r.prev_hash)).toBe(r.hash);
        expect(eventHash({ ...r, content_hash: 'f'.repeat(64) }, r.chain_seq, r.prev_hash)).not.toBe(r.hash);
      }
    });

    it('an edited event whose content hash was recomputed to match: hash_mismatch at its seal', async () => {
      await chainOf('edit-rehashed', 5);
      const { id } = await row('edit-rehashed', 3);
      await forgeData(id, { i: 2, amount: 0, nested: { ok: true } });
      expect((await verify('edit-rehashed')).first_break).toMatchObject({ seq: '3', id, problem: 'hash_mismatch' });
    });

    it('a v2 event made to look like a v1 one (its content hash removed): hash_mismatch', async () => {
      await chainOf('downgrade', 4);
      const { id } = await row('downgrade', 2);
      await asSuperuser(`UPDATE audit_events SET content_hash = NULL WHERE id = $1`, [id]);
      expect((await verify('downgrade')).first_break).toMatchObject({ seq: '2', id, problem: 'hash_mismatch' });
    });

    it('an edited event: hash_mismatch at that event', async () => {
      await chainOf('edit', 10);
      const { id } = await row('edit', 4);
      await asSuperuser(`UPDATE audit_events SET data = jsonb_set(data, '{amount}', '0') WHERE id = $1`, [id]);
      expect((await verify('edit')).first_break).toMatchObject({ seq: '4', id, problem: 'hash_mismatch' });
    });

    it('an edited actor or time is caught too', async () => {
      await chainOf('edit-time', 5);
      const { id } = await row('edit-time', 2);
      await asSuperuser(`UPDATE audit_events SET occurred_at = occurred_at - interval '1 microsecond' WHERE id = $1`, [id]);
      expect((await verify('edit-time')).first_break).toMatchObject({ seq: '2', id, problem: 'hash_mismatch' });
    });

    it('a deleted event: sequence_gap at the event after it', async () => {
      await chainOf('delete', 10);
      const { id: deleted } = await row('delete', 6);
      const { id: next } = await row('delete', 7);
      await asSuperuser(`DELETE FROM audit_events WHERE id = $1`, [deleted]);
      const report = await verify('delete');
      expect(report.first_break).toMatchObject({ seq: '7', id: next, problem: 'sequence_gap' });
      expect(report.first_break.detail).toMatch(/expected seq 6, found 7/);
      expect(report.verified).toBe(5);
    });

    it("a seal pointed at another tenant's event: a gap in this chain, and the other tenant's event is never read", async () => {
      await chainOf('repoint', 5);
      const c = new Client({ connectionString: env.db.url });
      await c.connect();
      let victim: string;
      try {
        // Written past the triggers, so that it is in no chain: a seal may name it without breaking a unique key.
        await c.query(`SET session_replication_role = replica`);
        const { rows } = await c.query(
          `INSERT INTO audit_events (tenant_id, type, actor, data) VALUES ('victim', 'secret', 'x', '{"secret": true}') RETURNING id::text AS id`,
        );
        victim = rows[0].id;
      } finally {
        await c.end();
      }
      await asSuperuser(`UPDATE audit_seals SET event_id = $1 WHERE tenant_id = 'repoint' AND seq = 3`, [victim]);
      const report = await verify('repoint');
      expect(report.first_break).toMatchObject({ seq: '4', problem: 'sequence_gap' });
      expect(report.first_break.id).not.toBe(victim);
      expect(report.verified).toBe(2);
    });

    it('a relinked event: prev_hash_mismatch', async () => {
      await chainOf('relink', 6);
      const { id } = await row('relink', 3);
      await asSuperuser(`UPDATE audit_seals SET prev_hash = repeat('f', 64) WHERE event_id = $1`, [id]);
      expect((await verify('relink')).first_break).toMatchObject({ seq: '3', id, problem: 'prev_hash_mismatch' });
    });

    it('a chain rewritten consistently after an edit is caught by the signed checkpoint', async () => {
      await chainOf('rewrite', 8);
      await chainOf('rewrite', 4); // a second checkpoint at seq 12
      // The superuser edits event 5 and recomputes every hash after it, so the links all hold.
      await forgeData((await row('rewrite', 5)).id, { forged: true });
      const rows = await sql<ChainedContent & { chain_seq: string }>(env.db.url, `${SEALED_EVENTS} WHERE s.tenant_id = 'rewrite' ORDER BY s.seq`);
      let prev = '0'.repeat(64);
      for (const r of rows) {
        const hash = eventHash(r, r.chain_seq, prev);
        await asSuperuser(`UPDATE audit_seals SET prev_hash = $1, hash = $2 WHERE event_id = $3`, [prev, hash, r.id]);
        prev = hash;
      }
      const report = await verify('rewrite');
      expect(report.checkpoints_checked).toBe(2);
      expect(report.first_break).toMatchObject({ seq: '8', problem: 'checkpoint_mismatch' });
    });

    it('a truncated tail is caught by the checkpoint that covered it', async () => {
      await chainOf('truncate', 7);
      await asSuperuser(`DELETE FROM audit_events WHERE id IN (SELECT event_id FROM audit_seals WHERE tenant_id = 'truncate' AND seq > 5)`);
      await asSuperuser(`DELETE FROM audit_seals WHERE tenant_id = 'truncate' AND seq > 5`);
      await asSuperuser(`UPDATE audit_chain_heads SET seq = 5 WHERE tenant_id = 'truncate'`);
      const report = await verify('truncate');
      expect(report.first_break).toMatchObject({ seq: '7', id: null, problem: 'chain_shorter_than_checkpoint' });
      expect(report.first_break.detail).toMatch(/ends at seq 5/);
    });

    it('a planted checkpoint (not signed by the service) is refused', async () => {
      await chainOf('planted', 2);
      const forged = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImNvdW50ZXJzaWduLWF1ZGl0LWNoZWNrcG9pbnQrand0In0.eyJ0ZW5hbnQiOiJwbGFudGVkIiwic2VxIjoiOSJ9.AAAA';
      await asSuperuser(`INSERT INTO audit_checkpoints (tenant_id, seq, hash, jws) VALUES ('planted', 9, repeat('0', 64), $1)`, [forged]);
      expect((await verify('planted')).first_break).toMatchObject({ problem: 'checkpoint_signature' });
    });

    it('with the database checkpoints deleted too, the copies kept elsewhere still catch a rewrite (npm run audit:verify)', async () => {
      await chainOf('offsite', 5);
      const lines = readFileSync(checkpointFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"tenant":"offsite"'));
      expect(lines).toHaveLength(1);
      await asSuperuser(`DELETE FROM audit_checkpoints WHERE tenant_id = 'offsite'`);
      await forgeData((await row('offsite', 5)).id, { forged: true });
      const rows = await sql<ChainedContent & { chain_seq: string; prev_hash: string }>(
        env.db.url,
        `${SEALED_EVENTS} WHERE s.tenant_id = 'offsite' AND s.seq = 5`,
      );
      await asSuperuser(`UPDATE audit_seals SET hash = $1 WHERE event_id = $2`, [eventHash(rows[0], '5', rows[0].prev_hash), rows[0].id]);
      // Inside the database, the chain now looks whole …
      expect((await verify('offsite')).ok).toBe(true);

      // … but not against the checkpoint file. The CLI runs from the build, as an operator would.
      await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT });
      const keys = await prepareTestKeys();
      const cliEnv = {
        ...process.env,
        DATABASE_URL: env.db.url,
        SIGNING_KEYS_FILE: keys.signingKeysFile,
        PUBLIC_URL: api.config.PUBLIC_URL,
        KEYS_DIR: mkdtempSync(join(tmpdir(), 'cs-')),
      };
      const cli = (args: string[]) =>
        run(process.execPath, [join(ROOT, 'dist/src/cli/audit-verify.js'), ...args], { env: cliEnv }).then(
          (r) => ({ code: 0, out: r.stdout }),
          (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
        );
      const broken = await cli(['--tenant', 'offsite', '--checkpoints', checkpointFile]);
      expect(broken.code).toBe(1);
      expect(JSON.parse(broken.out).first_break).toMatchObject({ seq: '5', id: rows[0].id, problem: 'checkpoint_mismatch' });
      const fine = await cli(['--tenant', 'recompute']);
      expect(fine.code).toBe(0);
      expect(JSON.parse(fine.out)).toMatchObject({ tenant: 'recompute', ok: true, verified: 3 });
    }, 120_000);
  });

  it('two instances sealing the same tenant at once keep one unbroken chain', async () => {
    const log = api.app.get(AuditLog);
    const ds = api.app.get(DataSource);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(ds.manager, { tenantId: 'race', type: 'test.race', data: { round, i } })));
      await Promise.all([api.app.get(AuditSealer).sealAll(), second.app.get(AuditSealer).sealAll(), api.app.get(AuditSealer).sealAll()]);
    }
    await seal();
    const report = await verify('race');
    expect(report).toMatchObject({ ok: true, verified: 1000, unsealed: 0 });
  });

  describe('GET /v1/audit, /v1/audit/export', () => {
    beforeAll(async () => {
      await chainOf('query', 25, false);
      await chainOf('query-other', 3, false);
    });

    it('needs the countersign:audit scope', async () => {
      expect((await call(api.url, 'GET', '/v1/audit')).status).toBe(401);
      expect((await call(api.url, 'GET', '/v1/audit', { token: await tenantToken('query') })).status).toBe(403);
      expect((await call(api.url, 'GET', '/v1/audit/verify', { token: await tenantToken('query') })).status).toBe(403);
    });

    it('pages with a cursor, filters, and never shows another tenant', async () => {
      const token = await auditor('query');
      const first = await call(api.url, 'GET', '/v1/audit?limit=10', { token });
      expect(first.body.events).toHaveLength(10);
      const seen = [...first.body.events];
      let cursor = first.body.next_cursor;
      while (cursor) {
        const page = await call(api.url, 'GET', `/v1/audit?limit=10&cursor=${cursor}`, { token });
        seen.push(...page.body.events);
        cursor = page.body.next_cursor;
      }
      expect(seen).toHaveLength(25);
      expect(new Set(seen.map((e) => e.tenant_id))).toEqual(new Set(['query']));
      expect(seen.map((e) => e.data.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(seen[0]).toMatchObject({ chain_seq: '1', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const byAgent = await call(api.url, 'GET', '/v1/audit?agent=agent-1&limit=100', { token });
      expect(byAgent.body.events.map((e: { data: { i: number } }) => e.data.i)).toEqual([1, 4, 7, 10, 13, 16, 19, 22]);
      const none = await call(api.url, 'GET', `/v1/audit?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`, { token });
      expect(none.body).toEqual({ events: [], next_cursor: null });
    });

    it.each([
      ['limit=0', 'limit'],
      ['from=yesterday', 'from'],
      ['verdict=maybe', 'verdict'],
      ['cursor=abc', 'cursor'],
      ['colour=red', 'colour'],
    ])('?%s is a 400 naming %s', async (q, field) => {
      const res = await call(api.url, 'GET', `/v1/audit?${q}`, { token: await auditor('query') });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
    });

    it('exports every matching event as JSON Lines', async () => {
      const res = await fetch(`${api.url}/v1/audit/export?agent=agent-2`, { headers: { authorization: `Bearer ${await auditor('query')}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((e) => e.data.i)).toEqual([2, 5, 8, 11, 14, 17, 20, 23]);
      expect(lines.every((e) => e.tenant_id === 'query' && e.agent_id === 'agent-2')).toBe(true);
    });

    it('filters decisions by tool and verdict, and approval events by correlation ids', async () => {
      const token = await auditor('acme');
      const parked = await call(api.url, 'GET', '/v1/audit?type=approval.created&tool=transfer_funds&mcp_session_id=mcp-sess-1', { token });
      expect(parked.body.events.length).toBeGreaterThan(0);
      expect(
        parked.body.events.every((e: { type: string; mcp_session_id: string }) => e.type === 'approval.created' && e.mcp_session_id === 'mcp-sess-1'),
      ).toBe(true);
      expect((await call(api.url, 'GET', '/v1/audit?tool=no_such_tool', { token })).body.events).toEqual([]);
    });
  });
});
