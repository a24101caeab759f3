import { DataSource } from 'typeorm';
import * as chain from '../../src/audit/audit-chain';
import { AuditEntry, AuditLog } from '../../src/audit/audit-log.service';
import { AuditSealer, HASHES_PER_TURN } from '../../src/audit/audit-sealer.service';
import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { gatewayToken } from '../support/keys';

// Every hash the sealer computes, counted (the real function runs).
jest.mock('../../src/audit/audit-chain', () => {
  const actual = jest.requireActual<typeof chain>('../../src/audit/audit-chain');
  return { ...actual, eventHash: jest.fn(actual.eventHash) };
});

/**
 * Sealing runs in the process that answers requests. A backlog (events written faster than the
 * 200 ms timer seals them, or after a restart) is sealed 5,000 events per transaction; hashed in one
 * loop, those held every request up for ~100 ms.
 */
describe('sealing a backlog of audit events', () => {
  let env: TestEnvironment;
  let api: TestApp;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ AUDIT_SEAL_INTERVAL_MS: '60000', AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0' });
  });
  afterAll(() => env.teardown());

  it('lets the event loop turn every few events while it hashes, and seals the whole backlog into one chain', async () => {
    const backlog = 2_000;
    const entries: AuditEntry[] = Array.from({ length: backlog }, (_, i) => ({
      tenantId: 'backlog',
      type: 'test.backlog',
      actor: 'test',
      data: { i, input: { tool: 'transfer_funds', arguments: { amount: i * 10.5, memo: 'x'.repeat(200) } } },
    }));
    const { sql, params } = api.app.get(AuditLog).insertStatement(entries);
    await api.app.get(DataSource).query(sql, params);

    const hashes = jest.mocked(chain.eventHash);
    hashes.mockClear();
    // One count per turn of the event loop while sealing runs: how many events were hashed by then.
    const hashedAtTurn: number[] = [];
    let sealing = true;
    const turn = () => {
      hashedAtTurn.push(hashes.mock.calls.length);
      if (sealing) setImmediate(turn);
    };
    setImmediate(turn);
    const sealed = await api.app.get(AuditSealer).sealTenant('backlog');
    sealing = false;

    expect(sealed).toBe(backlog);
    expect(hashes.mock.calls).toHaveLength(backlog);
    const mostBetweenTurns = Math.max(...hashedAtTurn.slice(1).map((n, i) => n - hashedAtTurn[i]));
    expect(mostBetweenTurns).toBeLessThanOrEqual(HASHES_PER_TURN);

    const token = await gatewayToken({ tenant: 'backlog', sub: 'auditor', scope: 'countersign:audit' });
    const report = (await call(api.url, 'GET', '/v1/audit/verify', { token })).body;
    expect(report).toMatchObject({ ok: true, verified: backlog, unsealed: 0 });
  });
});
