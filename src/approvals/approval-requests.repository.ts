/**
 * Approval requests and their votes as stored: the queries the lifecycle's use cases need, each
 * scoped by tenant here, so that no use case builds a query or holds the DataSource. A step that
 * changes a request runs inside `withLocked` / `withPendingLocked`, which lock the rows and hand the
 * open transaction on to the services that write in it (ApprovalSettlement, audit, outbox).
 */
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, ObjectLiteral } from 'typeorm';
import { combinedStatement, insertStatement, Statement } from '../common/database/insert-statement';
import { EntitySelect, rowFilter, selectEntities } from '../common/database/select-entities';
import { runPrepared } from '../common/database/prepared-statements';
import { StatementsTogether } from '../common/database/statements-together';
import { runAndCommit, Selected, selectedTogether, transactionBegunWith } from '../common/database/transaction-begun-with';
import { ApprovalRequest, ApprovalStatus, CallbackState, SETTLED_STATUSES } from './approval-request.entity';
import { ApprovalVote } from './approval-vote.entity';
import { Reevaluation, REEVALUATION_DENIED } from './redeem-reevaluation.port';
import { PollingState, PollingStates } from './token-redemption';

/** An open transaction, passed from a `withLocked…` step to the services that write in it. */
export type Transaction = EntityManager;

/** SQL another part commits with a new request: its CTEs (each `name AS (…)`) and their parameters, numbered from the offset it was given. */
export interface CompanionStatement {
  ctes: string[];
  params: unknown[];
}

/** Which of a tenant's pending requests a bulk rejection takes: those resting on one of these delegations, or on this delegating human. */
export type PendingDependency = { delegationIds: string[] } | { delegatorId: string };

@Injectable()
export class ApprovalRequests implements PollingStates {
  /** New requests parked at once go in one round trip, each its own statement (StatementsTogether): a park writes only rows of its own. */
  private readonly parks: StatementsTogether;

  constructor(private readonly dataSource: DataSource) {
    this.parks = new StatementsTogether(dataSource, { maxInFlight: 4, maxBatch: 50 });
  }

  /** The tenant's request by id; null when the tenant has none by that id. */
  async find(tenantId: string, approvalId: string): Promise<ApprovalRequest | null> {
    const [request] = await selectEntities(this.dataSource.manager, ApprovalRequest, { id: approvalId, tenantId });
    return request ?? null;
  }

  /** A request's votes, in the order they were cast (a step holding the request locked gets them from `withLocked`). */
  votes(approvalId: string): Promise<ApprovalVote[]> {
    return selectEntities(this.dataSource.manager, ApprovalVote, { approvalId }, { orderBy: 'id' });
  }

  /** How many requests are in each status, over all tenants (for the ops gauges); every status is listed, 0 when none is in it. */
  async countByStatus(): Promise<{ status: ApprovalStatus; n: number }[]> {
    const rows: { status: string; n: number }[] = await this.dataSource.query(`SELECT status, count(*)::int AS n FROM approval_requests GROUP BY status`);
    const counts = new Map(rows.map((row) => [row.status, Number(row.n)]));
    return (['pending', ...SETTLED_STATUSES] as const).map((status) => ({ status, n: counts.get(status) ?? 0 }));
  }

  /**
   * Stores a new request with what must commit with it (its audit events, its outbox event, a
   * facade's own row, the deliveries its first notification round owes) as one statement: atomic,
   * and one round trip, shared with the other requests parked in the same turn. Each companion is
   * built, in order, with the number of parameters before it.
   */
  async insertWith(request: ApprovalRequest, companions: ((paramOffset: number) => CompanionStatement | undefined)[]): Promise<void> {
    const row = insertStatement(this.dataSource, ApprovalRequest, [request]);
    const ctes = [`parked AS (${row.sql})`];
    const params = [...row.params];
    for (const companion of companions) {
      const part = companion(params.length);
      if (!part) continue;
      ctes.push(...part.ctes);
      params.push(...part.params);
    }
    await this.parks.run({ sql: `WITH ${ctes.join(', ')} SELECT 1`, params });
  }

  /** The votes that denied the request, in the order they were cast. */
  denials(approvalId: string): Promise<ApprovalVote[]> {
    return selectEntities(this.dataSource.manager, ApprovalVote, { approvalId, decision: 'deny' }, { orderBy: 'id' });
  }

  /** The manager outside any transaction, for a port that reads beside a request (a facade's own rows). */
  get reader(): Transaction {
    return this.dataSource.manager;
  }

  /** Runs `work` in one transaction, for a step that writes a request with its audit events without reading it again. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Gives the request the token id every delivery of its token carries (set once). */
  async assignTokenJti(request: Pick<ApprovalRequest, 'id' | 'tenantId'>, tokenJti: string): Promise<void> {
    await this.dataSource.manager.update(ApprovalRequest, { id: request.id, tenantId: request.tenantId }, { tokenJti });
  }

  /** Keeps the re-evaluation that let an approved request's token go out. */
  async saveReevaluation(tx: Transaction, request: ApprovalRequest, reevaluation: Reevaluation): Promise<void> {
    request.reevaluation = reevaluation;
    await tx.update(ApprovalRequest, { id: request.id, tenantId: request.tenantId }, { reevaluation });
  }

  /**
   * An approved call whose re-evaluation denies is denied for good (`settled_reason`
   * reevaluation_denied, the reasons kept with the request): no later redeem can issue its token.
   * In the caller's transaction. The callback state is left as it is: the one asking is being told now.
   */
  async denyOnReevaluation(tx: Transaction, request: ApprovalRequest, reevaluation: Reevaluation): Promise<void> {
    Object.assign(request, { status: 'denied', settledReason: REEVALUATION_DENIED, decidedAt: new Date(), reevaluation } satisfies Partial<ApprovalRequest>);
    await tx.update(
      ApprovalRequest,
      { id: request.id, tenantId: request.tenantId },
      { status: request.status, settledReason: request.settledReason, decidedAt: request.decidedAt, reevaluation },
    );
  }

  /** The INSERT of a vote, returning its id and time: a part of the statement that records it with its audit event and, when it decides, the settlement. */
  voteInsert(vote: ApprovalVote): (paramOffset: number) => Statement {
    return (o) => {
      const { sql, params } = insertStatement(this.dataSource, ApprovalVote, [vote], o);
      return { sql: `${sql} RETURNING id::text AS id, created_at`, params };
    };
  }

  /**
   * Runs the statement that records a vote (it reads back the vote's id and time, which the vote
   * takes). `last`: nothing else is written in the transaction, which commits with it (runAndCommit).
   */
  async recordVote(tx: Transaction, vote: ApprovalVote, statement: Statement, { last }: { last: boolean }): Promise<void> {
    const run = last ? runAndCommit : runPrepared;
    const [row] = await run<{ id: string; created_at: Date }>(tx, statement.sql, statement.params);
    Object.assign(vote, { id: row.id, createdAt: row.created_at });
  }

  /** Marks the approval token issued (its id, the re-evaluation that let it go) together with `companion` (its audit events): one statement, one round trip. */
  async markRedeemed(
    tx: Transaction,
    request: Pick<ApprovalRequest, 'id' | 'tenantId'>,
    jti: string,
    reevaluation: Reevaluation,
    companion: (paramOffset: number) => Statement,
  ): Promise<void> {
    const { sql, params } = combinedStatement([(o) => this.redeemedUpdate(request, jti, reevaluation, o), companion]);
    await runPrepared(tx, sql, params);
  }

  /**
   * The same, with no lock held: only if the request still awaits its token (approved, not yet
   * redeemed), which the UPDATE's own condition decides, so that of two redeems at once one marks
   * it. `companion` (its audit events) is written only with the mark: it inserts once for each row
   * of its `source` (`insertStatementIf`). Returns whether this redeem marked it.
   */
  async markRedeemedIfAwaited(
    request: Pick<ApprovalRequest, 'id' | 'tenantId'>,
    jti: string,
    reevaluation: Reevaluation,
    companion: (source: string, paramOffset: number) => Statement,
  ): Promise<boolean> {
    const { sql, params } = combinedStatement(
      [
        (o) => {
          const update = this.redeemedUpdate(request, jti, reevaluation, o);
          return { sql: `${update.sql} AND status = 'approved' AND token_redeemed_at IS NULL RETURNING 1`, params: update.params };
        },
        (o) => companion('c0', o),
      ],
      'SELECT count(*)::int AS marked FROM c0',
    );
    const [{ marked }] = await runPrepared<{ marked: number }>(this.dataSource.manager, sql, params);
    return marked === 1;
  }

  private redeemedUpdate(request: Pick<ApprovalRequest, 'id' | 'tenantId'>, jti: string, reevaluation: Reevaluation, o: number): Statement {
    return {
      sql: `UPDATE approval_requests SET token_redeemed_at = $${o + 1}, token_jti = $${o + 2}, reevaluation = $${o + 3} WHERE id = $${o + 4} AND ${rowFilter(`tenant_id = $${o + 5}`)}`,
      params: [new Date(), jti, JSON.stringify(reevaluation), request.id, request.tenantId],
    };
  }

  /** Where the request's callback stands after an attempt (and, for a delivered push of a token, that the token went out). */
  async settleCallback(tx: Transaction, request: Pick<ApprovalRequest, 'id' | 'tenantId'>, callbackState: CallbackState, redeemed: boolean): Promise<void> {
    await tx.update(ApprovalRequest, { id: request.id, tenantId: request.tenantId }, { callbackState, ...(redeemed ? { tokenRedeemedAt: new Date() } : {}) });
  }

  /** A pending request's polling state (PollingStates), written in the transaction that holds its row locked. */
  async savePolling(tx: Transaction, request: Pick<ApprovalRequest, 'id' | 'tenantId'>, state: PollingState): Promise<void> {
    await tx.update(ApprovalRequest, { id: request.id, tenantId: request.tenantId }, state);
  }

  /**
   * Runs `work` in one transaction holding the tenant's request locked (FOR UPDATE), with its votes
   * as they stand under the lock (no vote can join them while it is held) and whatever else the
   * step reads first (`alsoRead`, after them); `request` is null when the tenant has none by that
   * id. The BEGIN, the lock and the reads are one round trip.
   */
  withLocked<T, S extends readonly EntitySelect<ObjectLiteral>[] = []>(
    tenantId: string,
    approvalId: string,
    work: (request: ApprovalRequest | null, tx: Transaction, votes: ApprovalVote[], alsoRead: Selected<S>) => Promise<T>,
    alsoRead: readonly [...S] = [] as readonly EntitySelect<ObjectLiteral>[] as S,
  ): Promise<T> {
    return transactionBegunWith(
      this.dataSource,
      [
        { entity: ApprovalRequest, where: { id: approvalId, tenantId }, options: { forUpdate: true } },
        { entity: ApprovalVote, where: { approvalId, tenantId }, options: { orderBy: 'id' } },
        ...alsoRead,
      ],
      ([[request], votes, ...rest], tx) => work((request as ApprovalRequest | undefined) ?? null, tx, votes as ApprovalVote[], rest as Selected<S>),
    );
  }

  /**
   * The tenant's request (null when it has none by that id), its votes and whatever else the step
   * reads (`alsoRead`, after them), in one round trip and with no lock: a look before a step
   * decides whether it must lock.
   */
  async look<S extends readonly EntitySelect<ObjectLiteral>[] = []>(
    tenantId: string,
    approvalId: string,
    alsoRead: readonly [...S] = [] as readonly EntitySelect<ObjectLiteral>[] as S,
  ): Promise<{ request: ApprovalRequest | null; votes: ApprovalVote[]; alsoRead: Selected<S> }> {
    const [[request], votes, ...rest] = await selectedTogether(this.dataSource, [
      { entity: ApprovalRequest, where: { id: approvalId, tenantId } },
      { entity: ApprovalVote, where: { approvalId, tenantId }, options: { orderBy: 'id' } },
      ...alsoRead,
    ]);
    return { request: (request as ApprovalRequest | undefined) ?? null, votes: votes as ApprovalVote[], alsoRead: rest as Selected<S> };
  }

  /** Runs `work` in one transaction holding locked every pending request of the tenant that rests on `dependency`. */
  withPendingLocked<T>(tenantId: string, dependency: PendingDependency, work: (requests: ApprovalRequest[], tx: Transaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (tx) => {
      const query = tx
        .createQueryBuilder(ApprovalRequest, 'r')
        .setLock('pessimistic_write')
        .where(`r.tenant_id = :tenantId AND r.status = 'pending'`, { tenantId });
      if ('delegationIds' in dependency) query.andWhere(`r.delegation->>'delegation_id' = ANY(:ids)`, { ids: dependency.delegationIds });
      else query.andWhere('r.delegator_id = :delegatorId', { delegatorId: dependency.delegatorId });
      return work(await query.getMany(), tx);
    });
  }
}
