import type { ObjectLiteral } from 'typeorm';
import type { AuditEntry } from '../audit/audit-log.service';
import type { EntitySelect } from '../common/database/select-entities';
import type { FieldProblem } from '../common/errors/protocol-errors';
import type { ApprovalRequest } from './approval-request.entity';
import type { ApproverSet } from './approver-sets';

/** Who may vote on a request, as parking it and voting on it need to know. */
export interface ApproverObligation {
  tenantId: string;
  /** Everyone the sets name, each once: the initial round notifies them. */
  approvers: string[];
  escalateTo: string[];
  /** Every set must reach its quorum, each person counting in one set only. */
  sets: ApproverSet[];
  /** Where set `i`'s fields are in the park request, for field errors. */
  setPath(i: number): string;
  denyThreshold: number;
  delegatorId: string;
  agentOperator: string | null;
  independentApprovers: boolean;
}

/**
 * Statements another part adds to the park statement, so that what it owes commits with the
 * request (and its outbox events with it: the jobs follow through the outbox dispatcher).
 */
export interface ParkStatement {
  /** `name AS (…)` common table expressions, parameters numbered from the offset given. */
  ctes: string[];
  params: unknown[];
  /** Audit events to write with the request's own (after it, in this order). */
  events: AuditEntry[];
}

/** The routing's answer when a request is about to be parked. */
export interface Admission {
  /** Problems with the named approvers, as 400 field errors; nothing is parked if there are any. */
  problems: FieldProblem[];
  /** The notifications owed from the moment the request exists, for the park statement. */
  statement?(request: ApprovalRequest, paramOffset: number): ParkStatement;
}

/** Whether the directory has disabled the approver (who may then not vote), and their groups now. */
export interface ApproverStanding {
  disabled: boolean;
  groups: string[];
}

/** The reads of a standing: the person's row, their group memberships. */
export type StandingReads = readonly [EntitySelect<ObjectLiteral>, EntitySelect<ObjectLiteral>];

/**
 * What the lifecycle needs from whoever knows the approvers and reaches them (the notifications
 * part provides it). The lifecycle itself knows no directory and no channel.
 */
export abstract class ApproverRouting {
  /**
   * Checks the named approvers (unknown person, empty group, a quorum nobody can reach) and, if
   * they are fine, says what the park statement must also write (the initial notifications).
   */
  abstract admit(obligation: ApproverObligation): Promise<Admission>;
  /**
   * The approver as the directory has them now, not from a cache: whether disabled (who may then
   * not vote) and their groups (a link vouches for membership only when it was sent). Read on its
   * own connection before a transaction, never inside one (a transaction holding a connection must
   * never wait for a second one), or in the transaction's first round trip (`standingReads`).
   */
  abstract standing(tenantId: string, approverId: string): Promise<ApproverStanding>;
  /** The same standing as reads to make with a vote's lock (one round trip for all), and what they read as a standing. */
  abstract standingReads(tenantId: string, approverId: string): StandingReads;
  abstract standingFrom(rows: [ObjectLiteral[], ObjectLiteral[]]): ApproverStanding;
  /** Rebuilds from Postgres whatever notification jobs open requests (all, or the scope's) still need; returns how many. */
  abstract reconcile(scope?: ReconcileScope): Promise<number>;
}

/**
 * Which open requests a reconciliation re-adds jobs for. Everything, at start-up and when Redis
 * lost its data (flushed, restarted empty, or reconnected after a failover). The scheduled pass
 * looks only at work due within `dueWithinSeconds` or overdue (an expiry or a round whose job was
 * removed still happens on time), and at deliveries queued for longer than `graceSeconds`. New
 * requests need no look: their jobs come through the outbox, committed with them and dispatched
 * at least once. (It used to re-add the jobs of every request parked in the last five minutes,
 * every minute: two Redis scripts a request, five times over; in the harness a pass over ~30,000
 * recent requests cut the run it fell in by a quarter and tripled its p99.)
 */
export interface ReconcileScope {
  dueWithinSeconds: number;
  graceSeconds: number;
}
