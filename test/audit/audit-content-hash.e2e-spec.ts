import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { walkChain } from '../../src/audit/audit-chain';
import { AuditEvent } from '../../src/audit/audit-event.entity';
import { AuditLog } from '../../src/audit/audit-log.service';
import { AuditSealer } from '../../src/audit/audit-sealer.service';
import { readSealedChain } from '../../src/audit/audit-verifier.service';
import { canonicalJson } from '../../src/common/canonical-json';
import { json } from '../../src/common/canonical-json.fixture';
import type { JsonObject } from '../../src/common/json';
import { openTestDataSource, TestDataSource, undoMigrationsThrough } from '../support/database';

/**
 * Audit chain v2 hashes an event's data when it is written, and the verifier hashes the data it
 * reads back from jsonb: the two must encode to the same bytes for every value the service can
 * store, or an untouched event would look tampered with.
 */
describe('audit content hashes survive the round trip through jsonb', () => {
  let test: TestDataSource;
  let ds: DataSource;
  let log: AuditLog;

  beforeAll(async () => {
    test = await openTestDataSource(4, [AuditEvent]);
    ds = test.ds;
    log = new AuditLog(ds);
  });
  afterAll(() => test.close());

  /** Appends the data as events of one tenant, seals them and walks the chain. */
  async function writtenSealedAndVerified(tenantId: string, datas: JsonObject[]) {
    for (const data of datas) await log.append(ds.manager, { tenantId, type: 'test.event', actor: 'test', data });
    await new AuditSealer(ds).sealAll();
    return walkChain(readSealedChain(ds, tenantId));
  }

  it('values JSON gets wrong (numbers, Unicode, key order, toJSON, undefined) verify after the round trip', async () => {
    const datas = [
      { n: [1e21, 1e-7, 123e-20, -0, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, 0.1 + 0.2, 100, 1.5] },
      { '\ud83d\ude00': 'astral', é: 'é', '10': 1, '2': 2, a: { aa: 1, A: 2 }, '': 'empty key' },
      { at: new Date('2026-12-05T12:00:00.123Z'), missing: undefined, list: [undefined, () => 1, NaN, Infinity] },
      { deep: JSON.parse('{"a":'.repeat(60) + '1' + '}'.repeat(60)) },
      { text: 'line\nbreak \u2028 \u001f "quotes" \\ back', big: '€'.repeat(3000) },
    ] as unknown as JsonObject[];
    const result = await writtenSealedAndVerified('fidelity', datas);
    expect(result).toMatchObject({ verified: datas.length, break: null });
    // Stored as JSON.stringify stored them before: not-finite numbers and functions in a list as null.
    const [{ data }] = await ds.query(`SELECT data FROM audit_events WHERE tenant_id = 'fidelity' AND data ? 'at'`);
    expect(data).toEqual({ at: '2026-12-05T12:00:00.123Z', list: [null, null, null, null] });
  });

  it('any storable JSON value verifies after the round trip (property)', async () => {
    // What Postgres's jsonb can store, as the service's input validation lets through: no NUL, no unpaired surrogate.
    const storable = json.filter((value) => {
      try {
        return !canonicalJson({ value }).includes('\\u0000');
      } catch {
        return false; // an unpaired surrogate: refused, as the next test shows
      }
    });
    const datas = fc.sample(storable, { numRuns: 300, seed: 20261205 }).map((value) => ({ value }) as JsonObject);
    const result = await writtenSealedAndVerified('property', datas);
    expect(result).toMatchObject({ verified: datas.length, break: null });
  });

  it('data with an unpaired surrogate is refused before it is written (Postgres would store U+FFFD and the hash would not match)', async () => {
    await expect(log.append(ds.manager, { tenantId: 'refused', type: 'test.event', data: { s: 'a\ud800b' } })).rejects.toThrow(/lone surrogate/i);
    expect(await ds.query(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'refused'`)).toEqual([{ n: 0 }]);
  });

  it('the migration is not undone once events carry content hashes: their seals would be left unverifiable', async () => {
    await log.append(ds.manager, { tenantId: 'kept', type: 'test.event', data: { kept: true } });
    await expect(undoMigrationsThrough(ds, 'AuditContentHash1764260000000')).rejects.toThrow(/content hashes exist/);
    expect(await ds.query(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'kept' AND content_hash IS NOT NULL`)).toEqual([{ n: 1 }]);
  });
});
