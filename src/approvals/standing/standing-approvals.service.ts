/**
 * Standing approvals: granted when the request they stand on is approved (in the vote's
 * transaction), consumed by later calls that match (one conditional UPDATE, so that uses never
 * run over under concurrency), listed and revoked by approvers and admins, and ended with the
 * delegation they were granted under. There is no cache: the authorization engine reads Postgres
 * for each call that would otherwise park, so a revocation holds on every instance as soon as it
 * commits.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../../audit/audit-log.service';
import { NotFound } from '../../common/errors/protocol-errors';
import { auditContext } from '../approval-audit';
import { ApprovalRequest } from '../approval-request.entity';
import { ApprovalVote } from '../approval-vote.entity';
import { StandingApproval, standingApprovalView } from './standing-approval.entity';
import { agreedTerms, pinnedValues, pinsMatch, StandingScope } from './standing-terms';

/** A later call, as the authorization engine knows it after evaluating it in full. */
export interface CallUnderStanding {
  tenantId: string;
  agentId: string;
  delegatorId: string;
  delegationId: string | null;
  server: string;
  tool: string;
  resourceId: string | null;
  mcpSessionId: string | null;
  arguments: Record<string, unknown>;
  /** The scopes the policy offers for this call now: a standing approval of another scope no longer applies. */
  scopes: StandingScope[];
}

export interface UsedStandingApproval {
  id: string;
  approval_id: string;
  scope: StandingScope;
  uses: number;
  max_uses: number | null;
  expires_at: string;
}

/** Candidates looked at per call (the oldest first); a busy agent rarely has more than a few. */
const CANDIDATES = 20;

@Injectable()
export class StandingApprovals {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
  ) {}

  /** Whether approving with these votes grants a standing approval: its approving votes agreed on terms. */
  grants(votes: ApprovalVote[]): boolean {
    return termsAgreedBy(votes.filter((v) => v.decision === 'approve')) !== null;
  }

  /** At approval, inside its transaction: the standing approval the approving votes agreed on, if any. */
  async grantInTransaction(manager: EntityManager, request: ApprovalRequest, votes: ApprovalVote[]) {
    const approving = votes.filter((v) => v.decision === 'approve');
    const terms = termsAgreedBy(approving);
    if (!terms) return undefined;
    const now = new Date();
    const row = manager.create(StandingApproval, {
      id: `sta_${randomUUID()}`,
      tenantId: request.tenantId,
      approvalId: request.id,
      scope: terms.scope,
      agentId: request.agentId,
      delegatorId: request.delegatorId,
      delegationId: typeof request.delegation.delegation_id === 'string' ? request.delegation.delegation_id : null,
      server: request.toolCall.server,
      tool: request.toolCall.tool,
      resourceId: typeof request.resource.id === 'string' ? request.resource.id : null,
      mcpSessionId: terms.scope === 'session' ? request.mcpSessionId : null,
      pinned: pinnedValues(request.toolCall.arguments, terms.pin),
      grantedBy: approving.map((v) => v.approverId),
      maxUses: terms.max_uses,
      uses: 0,
      expiresAt: new Date(now.getTime() + terms.expires_in * 1000),
      createdAt: now,
      lastUsedAt: null,
      revokedAt: null,
      revokedBy: null,
      endedReason: null,
    });
    await manager.insert(StandingApproval, row);
    const view = standingApprovalView(row, now);
    await this.audit.append(manager, {
      ...auditContext(request),
      type: 'standing_approval.granted',
      actor: approving.map((v) => `approver:${v.approverId}`).join(','),
      data: {
        standing_approval_id: row.id,
        scope: row.scope,
        expires_at: view.expires_at,
        max_uses: row.maxUses,
        pinned: row.pinned,
        granted_by: row.grantedBy,
      },
    });
    return view;
  }

  /**
   * The live standing approval this call falls under, with one use consumed; undefined when none.
   * The UPDATE re-checks liveness under the row lock, so parallel calls never use more than allowed.
   */
  async consume(call: CallUnderStanding): Promise<UsedStandingApproval | undefined> {
    if (!call.scopes.length) return undefined;
    const candidates: { id: string; pinned: Record<string, string | null> }[] = await this.dataSource.query(
      `SELECT id, pinned FROM standing_approvals
       WHERE tenant_id = $1 AND agent_id = $2 AND server = $3 AND tool = $4 AND revoked_at IS NULL
         AND delegator_id = $5 AND delegation_id IS NOT DISTINCT FROM $6 AND resource_id IS NOT DISTINCT FROM $7
         AND scope = ANY($8) AND (scope <> 'session' OR mcp_session_id = $9)
         AND expires_at > now() AND (max_uses IS NULL OR uses < max_uses)
       ORDER BY created_at LIMIT ${CANDIDATES}`,
      [call.tenantId, call.agentId, call.server, call.tool, call.delegatorId, call.delegationId, call.resourceId, call.scopes, call.mcpSessionId],
    );
    for (const candidate of candidates.filter((c) => pinsMatch(c.pinned, call.arguments))) {
      const [rows]: [Record<string, unknown>[], number] = await this.dataSource.query(
        `UPDATE standing_approvals SET uses = uses + 1, last_used_at = now()
         WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL AND expires_at > now() AND (max_uses IS NULL OR uses < max_uses)
         RETURNING id, approval_id, scope, uses, max_uses, expires_at`,
        [candidate.id, call.tenantId],
      );
      const used = rows[0];
      if (used) return { ...(used as Omit<UsedStandingApproval, 'expires_at'>), expires_at: new Date(used.expires_at as string).toISOString() };
    }
    return undefined;
  }

  /** The tenant's standing approvals, newest first; `grantedBy` narrows to one approver's. */
  async list(tenantId: string, filter: { grantedBy?: string; agent?: string; includeEnded?: boolean }) {
    const q = this.dataSource.manager.createQueryBuilder(StandingApproval, 's').where('s.tenant_id = :tenantId', { tenantId });
    if (filter.grantedBy) q.andWhere('s.granted_by @> :who::jsonb', { who: JSON.stringify([filter.grantedBy]) });
    if (filter.agent) q.andWhere('s.agent_id = :agent', { agent: filter.agent });
    if (!filter.includeEnded) {
      q.andWhere('s.revoked_at IS NULL AND s.expires_at > now() AND (s.max_uses IS NULL OR s.uses < s.max_uses)');
    }
    const rows = await q.orderBy('s.created_at', 'DESC').limit(1000).getMany();
    return rows.map((r) => standingApprovalView(r));
  }

  /** Ends one standing approval now; `grantedBy` (an approver) may end only their own. Another tenant's is no such thing. */
  async revoke(tenantId: string, id: string, revokedBy: string, grantedBy?: string) {
    return this.dataSource.transaction(async (manager) => {
      const row = await manager.findOne(StandingApproval, { where: { id, tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!row || (grantedBy !== undefined && !row.grantedBy.includes(grantedBy))) throw new NotFound('no such standing approval');
      if (!row.revokedAt) {
        Object.assign(row, { revokedAt: new Date(), revokedBy, endedReason: 'revoked' });
        await manager.update(StandingApproval, { id, tenantId }, { revokedAt: row.revokedAt, revokedBy, endedReason: 'revoked' });
        await this.audit.append(manager, {
          tenantId,
          type: 'standing_approval.revoked',
          approvalId: row.approvalId,
          actor: revokedBy,
          agentId: row.agentId,
          delegatorId: row.delegatorId,
          data: { standing_approval_id: row.id, reason: 'revoked' },
        });
      }
      return standingApprovalView(row);
    });
  }

  /**
   * A person disabled in the directory: what they granted ends (they could no longer vote it), and
   * what was granted on their behalf (their agents are denied anyway).
   */
  async endForPerson(tenantId: string, personId: string, by: string): Promise<string[]> {
    return this.dataSource.transaction((manager) =>
      this.endWhere(manager, tenantId, `(granted_by @> jsonb_build_array($3::text) OR delegator_id = $3)`, personId, by, 'person_disabled', {
        person: personId,
      }),
    );
  }

  /** With a delegation revoked (in its transaction): every standing approval granted under it ends. */
  async endForDelegations(manager: EntityManager, tenantId: string, delegationIds: string[], by: string): Promise<string[]> {
    if (!delegationIds.length) return [];
    return this.endWhere(manager, tenantId, `delegation_id = ANY($3)`, delegationIds, by, 'delegation_revoked');
  }

  /** Ends the live standing approvals `condition` (on $3 = `subject`) selects, each with its audit event. */
  private async endWhere(
    manager: EntityManager,
    tenantId: string,
    condition: string,
    subject: unknown,
    by: string,
    reason: 'person_disabled' | 'delegation_revoked',
    data: Record<string, unknown> = {},
  ): Promise<string[]> {
    const [rows]: [{ id: string; approval_id: string }[], number] = await manager.query(
      `UPDATE standing_approvals SET revoked_at = now(), revoked_by = $2, ended_reason = $4
       WHERE tenant_id = $1 AND ${condition} AND revoked_at IS NULL RETURNING id, approval_id`,
      [tenantId, by, subject, reason],
    );
    if (rows.length) {
      await this.audit.append(
        manager,
        ...rows.map((row) => ({
          tenantId,
          type: 'standing_approval.revoked',
          approvalId: row.approval_id,
          actor: by,
          data: { standing_approval_id: row.id, reason, ...data },
        })),
      );
    }
    return rows.map((r) => r.id);
  }
}

/** The terms the approving votes agreed on; null when any of them chose none, or they differ in scope. */
function termsAgreedBy(approving: ApprovalVote[]) {
  return agreedTerms(approving.map((v) => v.standing ?? null));
}
