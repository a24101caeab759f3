import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ApprovalRequest } from '../../src/approvals/approval-request.entity';
import { ApprovalVote } from '../../src/approvals/approval-vote.entity';
import { dataSourceOptions } from '../../src/common/database/data-source-options';
import { selectEntities } from '../../src/common/database/select-entities';
import { usePreparedStatements } from '../../src/common/database/prepared-statements';
import { runPrepared } from '../../src/common/database/prepared-statements';
import { runTogether, StatementsTogether } from '../../src/common/database/statements-together';
import { runAndCommit, selectedTogether, transactionBegunWith } from '../../src/common/database/transaction-begun-with';
import { createTestDatabase, TestDatabase } from '../support/database';

/** A transaction whose BEGIN goes with its first reads: one round trip, the same rows, the same transaction. */
describe('transactionBegunWith', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  const insertRequest = (id: string) =>
    dataSource.query(
      `INSERT INTO approval_requests (id, tenant_id, status, gateway_id, tool_call, call_hash, agent, agent_id, delegator_id, reason, approvers, quorum,
                                      deny_threshold, delivery_mode, callback_state, poll_interval, expires_at, approver_sets)
       VALUES ($1, 'acme', 'pending', 'gw', '{}', 'h', '{}', 'agent-1', 'alice', 'why', '[]', 1, 1, 'poll', 'none', 5, now() + interval '1 hour', '[]')`,
      [id],
    );
  const insertVote = (on: { query(sql: string, params: unknown[]): Promise<unknown> }, approvalId: string, approverId: string) =>
    on.query(
      `INSERT INTO approval_votes (tenant_id, approval_id, approver_id, decision, reason, link_id, eligible_sets) VALUES ('acme', $1, $2, 'approve', 'ok', $3, '[]')`,
      [approvalId, approverId, `link-${approvalId}-${approverId}`],
    );
  const lockedWithVotes = (id: string) =>
    [
      { entity: ApprovalRequest, where: { id, tenantId: 'acme' }, options: { forUpdate: true } },
      { entity: ApprovalVote, where: { approvalId: id, tenantId: 'acme' }, options: { orderBy: 'id' } },
    ] as const;

  /** Values with quotes, backslashes or a NUL, read on `on`, match only the row that has them (none, for a NUL). */
  const takesValuesAsLiterals = async (on: DataSource, label: string) => {
    const id = `tx-'${label}' \\ "back"slash'; DROP TABLE approval_votes; --`;
    await insertRequest(id);
    const [[request], votes] = await transactionBegunWith(on, lockedWithVotes(id), async (selected) => selected);
    expect(request.id).toBe(id);
    expect(votes).toEqual([]);
    const [[none]] = await transactionBegunWith(on, lockedWithVotes(`tx-1' OR '1'='1`), async (selected) => selected);
    expect(none).toBeUndefined();
    // A NUL would end the query's text on the wire; no stored id has one, so it matches nothing.
    const [[withNul], nulVotes] = await transactionBegunWith(on, lockedWithVotes('tx-1\u0000'), async (selected) => selected);
    expect(withNul).toBeUndefined();
    expect(nulVotes).toEqual([]);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({ ...dataSourceOptions(db.url, 2), entities: [ApprovalRequest, ApprovalVote] }).initialize();
    await insertRequest('tx-1');
    await insertVote(dataSource, 'tx-1', 'bob');
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  afterEach(() => jest.restoreAllMocks());

  it('sends the BEGIN and the reads as one query, and reads the same entities as selectEntities', async () => {
    const sent = jest.spyOn(Client.prototype, 'query');
    const [requests, votes] = await transactionBegunWith(dataSource, lockedWithVotes('tx-1'), async (selected) => selected);
    const texts = sent.mock.calls.map(([q]) => (typeof q === 'string' ? q : (q as { text: string }).text));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/^BEGIN; SELECT .* FROM "approval_requests" WHERE .* FOR UPDATE; SELECT .* FROM "approval_votes" WHERE .* ORDER BY "id"$/);
    expect(texts[1]).toBe('COMMIT');
    expect(requests).toEqual(await selectEntities(dataSource.manager, ApprovalRequest, { id: 'tx-1', tenantId: 'acme' }));
    expect(requests[0]).toBeInstanceOf(ApprovalRequest);
    expect(votes).toEqual(await selectEntities(dataSource.manager, ApprovalVote, { approvalId: 'tx-1' }, { orderBy: 'id' }));
    expect(votes.map((v) => v.approverId)).toEqual(['bob']);
  });

  it('holds the row locked while the work runs, and commits what the work wrote', async () => {
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await transactionBegunWith(dataSource, lockedWithVotes('tx-1'), async (_selected, tx) => {
        await expect(other.query(`SELECT 1 FROM approval_requests WHERE id = 'tx-1' FOR UPDATE NOWAIT`)).rejects.toMatchObject({ code: '55P03' });
        await tx.update(ApprovalRequest, { id: 'tx-1', tenantId: 'acme' }, { reason: 'changed in the transaction' });
      });
      const { rows } = await other.query(`SELECT reason FROM approval_requests WHERE id = 'tx-1'`);
      expect(rows).toEqual([{ reason: 'changed in the transaction' }]);
      await other.query(`SELECT 1 FROM approval_requests WHERE id = 'tx-1' FOR UPDATE NOWAIT`);
    } finally {
      await other.end();
    }
  });

  it('rolls back everything the work wrote when it throws, a nested save included, and gives the connection back', async () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      await expect(
        transactionBegunWith(dataSource, lockedWithVotes('tx-1'), async ([[request]], tx) => {
          request.reason = 'saved, then rolled back';
          // save() opens a transaction of its own when none is open: here it must nest.
          await tx.save(request);
          await insertVote(tx, 'tx-1', `carol-${attempt}`);
          throw new Error('the work failed');
        }),
      ).rejects.toThrow('the work failed');
    }
    // Four failures on a pool of two: each connection went back.
    const [[request], votes] = await transactionBegunWith(dataSource, lockedWithVotes('tx-1'), async (selected) => selected);
    expect(request.reason).toBe('changed in the transaction');
    expect(votes.map((v) => v.approverId)).toEqual(['bob']);
  });

  it('reads, after a lock it waited for, the votes committed by the transaction that held it', async () => {
    await insertRequest('tx-2');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const first = transactionBegunWith(dataSource, lockedWithVotes('tx-2'), async (_selected, tx) => {
      await insertVote(tx, 'tx-2', 'bob');
      locked();
      await held;
    });
    await holding;
    const second = transactionBegunWith(dataSource, lockedWithVotes('tx-2'), async ([, votes]) => votes.map((v) => v.approverId));
    // The second is waiting on the lock (its snapshot for the votes is not taken yet) when the first commits its vote.
    await new Promise((r) => setTimeout(r, 200));
    release();
    await first;
    expect(await second).toEqual(['bob']);
  });

  it('takes values with quotes and backslashes as literals, nothing more', () => takesValuesAsLiterals(dataSource, 'quoted'));

  describe('with prepared statements on (DATABASE_PREPARED_STATEMENTS)', () => {
    let prepared: DataSource;
    /** The texts sent to Postgres while `run` ran. */
    const sentDuring = async <T>(run: () => Promise<T>): Promise<{ result: T; texts: string[] }> => {
      const sent = jest.spyOn(Client.prototype, 'query');
      try {
        const result = await run();
        return { result, texts: sent.mock.calls.map(([q]) => (typeof q === 'string' ? q : (q as { text: string }).text)) };
      } finally {
        sent.mockRestore();
      }
    };

    beforeAll(async () => {
      // One connection, so that every call here meets the session the first one prepared.
      prepared = await new DataSource({ ...dataSourceOptions(db.url, 1), entities: [ApprovalRequest, ApprovalVote] }).initialize();
      usePreparedStatements(prepared, 'session');
    });
    afterAll(() => prepared?.destroy());

    it('PREPAREs each select once per session, in a round trip of its own, then EXECUTEs it with the BEGIN, reading the same entities', async () => {
      const first = await sentDuring(() => transactionBegunWith(prepared, lockedWithVotes('tx-1'), async (selected) => selected));
      expect(first.texts).toHaveLength(4);
      expect(first.texts[0]).toMatch(/^PREPARE "cs_session_[\w-]{24}" AS SELECT .* FROM "approval_requests" WHERE "id" = \$1 AND .* FOR UPDATE$/);
      expect(first.texts[1]).toMatch(/^PREPARE "cs_session_[\w-]{24}" AS SELECT .* FROM "approval_votes" WHERE .* ORDER BY "id"$/);
      expect(first.texts[2]).toMatch(/^BEGIN; EXECUTE "cs_session_[\w-]{24}"\('tx-1', 'acme'\); EXECUTE "cs_session_[\w-]{24}"\('tx-1', 'acme'\)$/);
      expect(first.texts[3]).toBe('COMMIT');
      const again = await sentDuring(() => transactionBegunWith(prepared, lockedWithVotes('tx-1'), async (selected) => selected));
      expect(again.texts).toEqual([first.texts[2], 'COMMIT']);
      const [requests, votes] = again.result;
      expect(requests).toEqual(await selectEntities(dataSource.manager, ApprovalRequest, { id: 'tx-1', tenantId: 'acme' }));
      expect(requests[0]).toBeInstanceOf(ApprovalRequest);
      expect(votes.map((v) => v.approverId)).toEqual(['bob']);
      expect(first.result).toEqual(again.result);
    });

    it('reads outside a transaction the same way, and prepares a text that comes twice in one batch once', async () => {
      // A text no test here has sent before.
      const select = { entity: ApprovalVote, where: { approvalId: 'tx-1', approverId: 'bob' } };
      const { result, texts } = await sentDuring(() => selectedTogether(prepared, [select, select]));
      expect(texts).toHaveLength(2);
      expect(texts[0]).toMatch(/^PREPARE "cs_session_[\w-]{24}" AS SELECT .* FROM "approval_votes" WHERE "approval_id" = \$1 AND "approver_id" = \$2$/);
      expect(texts[1]).toMatch(/^EXECUTE "cs_session_[\w-]{24}"\('tx-1', 'bob'\); EXECUTE "cs_session_[\w-]{24}"\('tx-1', 'bob'\)$/);
      expect(result[0].map((v) => v.approverId)).toEqual(['bob']);
      expect(result[1]).toEqual(result[0]);
    });

    it('prepares several new texts one after the other: never a query sent while the connection runs another', async () => {
      const original = Client.prototype.query;
      const overlapping: unknown[] = [];
      jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
        const state = this as unknown as { _activeQuery: unknown; _queryQueue: unknown[] };
        if (state._activeQuery || state._queryQueue.length) overlapping.push(args[0]);
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as never);
      // Texts no test here has sent before.
      const [byLink, byReason] = await selectedTogether(prepared, [
        { entity: ApprovalVote, where: { linkId: 'link-tx-1-bob' } },
        { entity: ApprovalVote, where: { reason: 'ok', approverId: 'bob' } },
      ]);
      expect(byLink.map((v) => v.approverId)).toEqual(['bob']);
      expect(byReason.map((v) => v.approvalId)).toContain('tx-1');
      expect(overlapping).toEqual([]);
    });

    it('behind a transaction pooler (protocol mode) sends the values in the text and PREPAREs nothing in SQL', async () => {
      const pooled = await new DataSource({ ...dataSourceOptions(db.url, 1), entities: [ApprovalRequest, ApprovalVote] }).initialize();
      try {
        usePreparedStatements(pooled, 'protocol');
        const { result, texts } = await sentDuring(() => transactionBegunWith(pooled, lockedWithVotes('tx-1'), async (selected) => selected));
        expect(texts).toHaveLength(2);
        expect(texts[0]).toMatch(
          /^BEGIN; SELECT .* FROM "approval_requests" WHERE "id" = 'tx-1' .* FOR UPDATE; SELECT .* FROM "approval_votes" WHERE .*'tx-1'.* ORDER BY "id"$/,
        );
        expect(result[1].map((v) => v.approverId)).toEqual(['bob']);
      } finally {
        await pooled.destroy();
      }
    });

    describe('runAndCommit: the last statement commits with it', () => {
      /** A vote with values of every kind a statement sends: quotes and backslashes, JSON, a date, a null. */
      const voteInsert = `INSERT INTO approval_votes (tenant_id, approval_id, approver_id, via_group, decision, reason, link_id, eligible_sets, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id::text AS id, created_at, reason, eligible_sets, via_group`;
      const values = (approvalId: string, approverId: string, reason: string) => [
        'acme',
        approvalId,
        approverId,
        null,
        'approve',
        reason,
        `link-${approvalId}-${approverId}`,
        JSON.stringify([{ of: 'set-1', "it's": 'a "quoted" \\ value' }]),
        new Date('2026-12-06T06:00:00.123Z'),
      ];
      const tricky = `it's "ok" \\ '); DROP TABLE approval_votes; --`;

      it('sends EXECUTE and COMMIT as one query, commits what it wrote, and reads back what the protocol would have', async () => {
        await insertRequest('tx-c1');
        const { result, texts } = await sentDuring(() =>
          transactionBegunWith(prepared, lockedWithVotes('tx-c1'), async (_selected, tx) => runAndCommit(tx, voteInsert, values('tx-c1', 'bob', tricky))),
        );
        expect(texts.at(-1)).toMatch(/^EXECUTE "cs_session_[\w-]{24}"\('acme', 'tx-c1', 'bob', NULL, 'approve', .*\); COMMIT$/);
        expect(texts).not.toContain('COMMIT');
        // The same statement through the protocol, for another approver: the same values come back.
        const [viaProtocol] = await prepared.transaction((tx) => runPrepared<Record<string, unknown>>(tx, voteInsert, values('tx-c1', 'carol', tricky)));
        const [row] = result as Record<string, unknown>[];
        expect({ ...row, id: undefined }).toEqual({ ...viaProtocol, id: undefined });
        expect(row).toMatchObject({ reason: tricky, via_group: null, created_at: new Date('2026-12-06T06:00:00.123Z') });
        expect(row.eligible_sets).toEqual([{ of: 'set-1', "it's": 'a "quoted" \\ value' }]);
        // Committed: another connection sees both votes.
        const committed = await dataSource.query(`SELECT approver_id FROM approval_votes WHERE approval_id = 'tx-c1' ORDER BY approver_id`);
        expect(committed).toEqual([{ approver_id: 'bob' }, { approver_id: 'carol' }]);
      });

      it('when the statement fails, commits nothing the transaction wrote, and gives the connection back', async () => {
        await insertRequest('tx-c2');
        await insertVote(dataSource, 'tx-c2', 'bob');
        for (let attempt = 0; attempt < 3; attempt++) {
          await expect(
            transactionBegunWith(prepared, lockedWithVotes('tx-c2'), async ([[request]], tx) => {
              await tx.update(ApprovalRequest, { id: request.id, tenantId: 'acme' }, { reason: 'written, then rolled back' });
              // bob has voted: the unique (approval, approver) refuses this one.
              return runAndCommit(tx, voteInsert, values('tx-c2', 'bob', 'twice'));
            }),
          ).rejects.toMatchObject({ code: '23505' });
        }
        const [[request], votes] = await transactionBegunWith(prepared, lockedWithVotes('tx-c2'), async (selected) => selected);
        expect(request.reason).toBe('why');
        expect(votes.map((v) => v.reason)).toEqual(['ok']);
      });

      it('behind a transaction pooler (protocol mode), runs the statement through the protocol and commits after the work', async () => {
        const pooled = await new DataSource({ ...dataSourceOptions(db.url, 1), entities: [ApprovalRequest, ApprovalVote] }).initialize();
        try {
          usePreparedStatements(pooled, 'protocol');
          await insertRequest('tx-c3');
          const { texts } = await sentDuring(() =>
            transactionBegunWith(pooled, lockedWithVotes('tx-c3'), async (_selected, tx) => runAndCommit(tx, voteInsert, values('tx-c3', 'bob', tricky))),
          );
          expect(texts.slice(1)).toEqual([voteInsert, 'COMMIT']);
          expect(await dataSource.query(`SELECT reason FROM approval_votes WHERE approval_id = 'tx-c3'`)).toEqual([{ reason: tricky }]);
        } finally {
          await pooled.destroy();
        }
      });

      it('a value with a NUL goes through the protocol, which refuses it, and nothing is committed', async () => {
        await insertRequest('tx-c4');
        await expect(
          transactionBegunWith(prepared, lockedWithVotes('tx-c4'), async (_selected, tx) => runAndCommit(tx, voteInsert, values('tx-c4', 'bob', 'a\u0000b'))),
        ).rejects.toMatchObject({ code: '22021' });
        expect(await dataSource.query(`SELECT 1 FROM approval_votes WHERE approval_id = 'tx-c4'`)).toEqual([]);
      });

      it('outside a transaction it refuses to run', async () => {
        await expect(runAndCommit(prepared.manager, voteInsert, values('tx-c1', 'dave', 'x'))).rejects.toThrow(
          'runAndCommit runs the last statement of an open transaction',
        );
      });
    });

    describe('runTogether: independent statements in one round trip', () => {
      const reasonOf = (id: string, reason: string) => ({
        sql: `UPDATE approval_requests SET reason = $1 WHERE id = $2 AND tenant_id = 'acme'`,
        params: [reason, id],
      });
      const voteOf = (approvalId: string, approverId: string) => ({
        sql: `INSERT INTO approval_votes (tenant_id, approval_id, approver_id, decision, reason, link_id, eligible_sets) VALUES ('acme', $1, $2, 'approve', 'ok', $3, '[]')`,
        params: [approvalId, approverId, `link-${approvalId}-${approverId}`],
      });
      const reasons = async (...ids: string[]) =>
        (await dataSource.query(`SELECT id, reason FROM approval_requests WHERE id = ANY($1) ORDER BY id`, [ids])).map((r: { reason: string }) => r.reason);

      it('sends their EXECUTEs as one query, and every one takes effect', async () => {
        for (const id of ['tg-1', 'tg-2']) await insertRequest(id);
        const statements = [reasonOf('tg-1', `one's "first"`), reasonOf('tg-2', 'two \\ second'), voteOf('tg-1', 'bob')];
        const { result, texts } = await sentDuring(() => runTogether(prepared, statements));
        expect(result).toEqual([undefined, undefined, undefined]);
        expect(texts.filter((t) => !t.startsWith('PREPARE'))).toEqual([
          expect.stringMatching(/^EXECUTE "cs_session_[\w-]{24}"\(.*\); EXECUTE "cs_session_[\w-]{24}"\(.*\); EXECUTE "cs_session_[\w-]{24}"\(.*\)$/),
        ]);
        expect(await reasons('tg-1', 'tg-2')).toEqual([`one's "first"`, 'two \\ second']);
        expect(await dataSource.query(`SELECT approver_id FROM approval_votes WHERE approval_id = 'tg-1'`)).toEqual([{ approver_id: 'bob' }]);
      });

      it('a statement that fails fails alone: the others take effect, and it gets its own error', async () => {
        for (const id of ['tg-3', 'tg-4']) await insertRequest(id);
        await insertVote(dataSource, 'tg-3', 'bob');
        const outcomes = await runTogether(prepared, [reasonOf('tg-3', 'kept'), voteOf('tg-3', 'bob'), reasonOf('tg-4', 'kept too')]);
        expect(outcomes[0]).toBeUndefined();
        expect(outcomes[1]).toMatchObject({ code: '23505' });
        expect(outcomes[2]).toBeUndefined();
        expect(await reasons('tg-3', 'tg-4')).toEqual(['kept', 'kept too']);
      });

      it('when the query fails other than by a statement (the connection lost), every statement gets that error and none runs again', async () => {
        for (const id of ['tg-5', 'tg-6']) await insertRequest(id);
        const original = Client.prototype.query;
        const lost = new Error('Connection terminated unexpectedly');
        const spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
          if (typeof args[0] === 'string' && args[0].startsWith('EXECUTE')) return Promise.reject(lost);
          return (original as (...a: unknown[]) => unknown).apply(this, args);
        } as never);
        try {
          expect(await runTogether(prepared, [reasonOf('tg-5', 'never'), reasonOf('tg-6', 'never')])).toEqual([lost, lost]);
        } finally {
          spy.mockRestore();
        }
        expect(await reasons('tg-5', 'tg-6')).toEqual(['why', 'why']);
      });

      it('StatementsTogether: the statements asked for in one turn go in one query, and each caller gets its own outcome', async () => {
        for (const id of ['tg-8', 'tg-9']) await insertRequest(id);
        await insertVote(dataSource, 'tg-8', 'bob');
        const together = new StatementsTogether(prepared, { maxInFlight: 1, maxBatch: 50 });
        const { result, texts } = await sentDuring(() =>
          Promise.allSettled([together.run(reasonOf('tg-8', 'in one turn')), together.run(voteOf('tg-8', 'bob')), together.run(reasonOf('tg-9', 'also'))]),
        );
        expect(result.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((result[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
        // The three went in one query first; it failed as a whole, so each ran again alone.
        expect(texts.filter((t) => t.startsWith('EXECUTE'))).toEqual([expect.stringMatching(/^EXECUTE [^;]+; EXECUTE [^;]+; EXECUTE [^;]+$/)]);
        expect(await reasons('tg-8', 'tg-9')).toEqual(['in one turn', 'also']);
      });

      it('behind a transaction pooler (protocol mode), runs each through the protocol', async () => {
        const pooled = await new DataSource({ ...dataSourceOptions(db.url, 2), entities: [ApprovalRequest, ApprovalVote] }).initialize();
        try {
          usePreparedStatements(pooled, 'protocol');
          await insertRequest('tg-7');
          const { result, texts } = await sentDuring(() => runTogether(pooled, [reasonOf('tg-7', 'by protocol'), voteOf('tg-7', 'carol')]));
          expect(result).toEqual([undefined, undefined]);
          expect(texts.sort()).toEqual([reasonOf('', '').sql, voteOf('', '').sql].sort());
          expect(await reasons('tg-7')).toEqual(['by protocol']);
        } finally {
          await pooled.destroy();
        }
      });
    });

    it('takes values with quotes, backslashes and NULs as literals, nothing more, outside a transaction too', async () => {
      await takesValuesAsLiterals(prepared, 'prepared');
      const [[withNul], nulVotes] = await selectedTogether(prepared, lockedWithVotes('tx-1\u0000').slice(0, 2));
      expect(withNul).toBeUndefined();
      expect(nulVotes).toEqual([]);
    });
  });
});
