import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A kind of call, as graduated autonomy keeps its history: who (agent class) does what (tool) to what (classification). */
export interface CallKind {
  agentClass: string;
  server: string;
  tool: string;
  classification: string;
}

export interface HumanDecisions {
  approvals: number;
  denials: number;
  lastDenialAt: Date | null;
  /** Approvals after both the last denial and `since`. */
  approvalsInStreak: number;
}

/**
 * The human decisions on parked calls of one kind: the approvers' approvals and denials (never
 * an expiry or a cancel), of calls that a policy decision parked (its facts, kept with the
 * request, say the agent class and classification the policy saw; a call a gateway parked
 * directly states its own and is not counted). The lifecycle knows nothing of policies: it
 * answers the question, and authz's graduated autonomy decides what it means.
 */
@Injectable()
export class DecisionHistory {
  constructor(private readonly dataSource: DataSource) {}

  async of(tenantId: string, kind: CallKind, since: Date | null): Promise<HumanDecisions> {
    const [row] = await this.dataSource.query(
      `WITH h AS (
         SELECT status, decided_at FROM approval_requests
          WHERE tenant_id = $1 AND risk->>'agent_class' = $2 AND tool_call->>'server' = $3 AND tool_call->>'tool' = $4
            AND risk->>'resource_classification' = $5 AND status IN ('approved', 'denied') AND decision_id IS NOT NULL),
       d AS (SELECT max(decided_at) AS last_denial FROM h WHERE status = 'denied')
       SELECT (SELECT count(*) FROM h WHERE status = 'approved') AS approvals,
              (SELECT count(*) FROM h WHERE status = 'denied') AS denials,
              d.last_denial,
              (SELECT count(*) FROM h WHERE status = 'approved'
                  AND decided_at > COALESCE(GREATEST(d.last_denial, $6::timestamptz), '-infinity')) AS streak
         FROM d`,
      [tenantId, kind.agentClass, kind.server, kind.tool, kind.classification, since],
    );
    return {
      approvals: Number(row.approvals),
      denials: Number(row.denials),
      lastDenialAt: row.last_denial ? new Date(row.last_denial) : null,
      approvalsInStreak: Number(row.streak),
    };
  }
}
