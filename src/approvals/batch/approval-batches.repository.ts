import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { ApprovalRequest } from '../approval-request.entity';
import { ApprovalVote } from '../approval-vote.entity';
import type { BatchScope } from './batch-scope';

/** At most this many requests in one batch (listed or decided). */
export const BATCH_MAX = 100;

/** The reads batch review needs, each scoped by tenant. */
@Injectable()
export class ApprovalBatches {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The tenant's pending, unexpired requests in the scope on which this approver has not voted,
   * oldest first (eligibility is the caller's to check: it depends on the approver's groups).
   */
  pendingFor(tenantId: string, scope: BatchScope, approverId: string): Promise<ApprovalRequest[]> {
    const q = this.dataSource.manager
      .createQueryBuilder(ApprovalRequest, 'r')
      .where('r.tenant_id = :tenantId AND r.agent_id = :agentId', { tenantId, agentId: scope.agentId })
      .andWhere(`r.status = 'pending' AND r.expires_at > now()`)
      .andWhere('NOT EXISTS (SELECT 1 FROM approval_votes v WHERE v.approval_id = r.id AND v.approver_id = :approverId)', { approverId });
    if ('taskId' in scope) q.andWhere(`r.intent->>'id' = :task`, { task: scope.taskId });
    else q.andWhere(`coalesce(r.intent->>'id', '') = '' AND r.mcp_session_id = :session`, { session: scope.mcpSessionId });
    return q.orderBy('r.created_at', 'ASC').addOrderBy('r.id', 'ASC').limit(BATCH_MAX).getMany();
  }

  /** The tenant's requests among these ids (another tenant's are simply not found). */
  byIds(tenantId: string, ids: string[]): Promise<ApprovalRequest[]> {
    return ids.length ? this.dataSource.manager.find(ApprovalRequest, { where: { tenantId, id: In(ids) } }) : Promise.resolve([]);
  }

  /** Votes on these requests, for the counts a batch view shows. */
  votesOn(ids: string[]): Promise<ApprovalVote[]> {
    return ids.length ? this.dataSource.manager.find(ApprovalVote, { where: { approvalId: In(ids) } }) : Promise.resolve([]);
  }
}
