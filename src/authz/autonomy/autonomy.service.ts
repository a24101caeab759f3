/**
 * Graduated autonomy (issue 15): per kind of call (agent class, tool, resource classification),
 * the history of human judgement that policies read as `context.autonomy`, so that a rule like
 * "no approval after 20 consecutive approvals and no denial in 30 days, outside production" is
 * written in Cedar, by the tenant, never built in. The streak counts the approvers' approvals
 * since the latest of: the last denial, the last sampled-review flag of that kind of call, the
 * activation of the policy set in force, and an admin's reset. Read only when the active set can
 * observe it (PolicyEngine.observes). Admins see and reset it (autonomy.controller.ts).
 */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CallKind, DecisionHistory } from '../../approvals/decision-history.service';
import { AuditLog } from '../../audit/audit-log.service';
import type { CallFacts } from '../policy/cedar-schema';
import { AutonomyFacts, NEVER_DAYS } from '../policy/history-facts';

export type { CallKind };

const DAY_MS = 86_400_000;
const daysSince = (at: Date | null, now: number) => (at ? Math.max(0, Math.floor((now - at.getTime()) / DAY_MS)) : NEVER_DAYS);

export const kindOf = (facts: CallFacts): CallKind => ({
  agentClass: facts.agent_class,
  server: facts.server,
  tool: facts.tool,
  classification: facts.resource_classification,
});

/** What an admin sees: the facts policies read, and where the streak starts and why. */
export interface AutonomyView {
  agent_class: string;
  server: string;
  tool: string;
  resource_classification: string;
  autonomy: AutonomyFacts;
  streak_since: string | null;
  last_denial_at: string | null;
  last_flag_at: string | null;
  policy_activated_at: string | null;
  reset_at: string | null;
  reset_by: string | null;
}

@Injectable()
export class GraduatedAutonomy {
  constructor(
    private readonly dataSource: DataSource,
    private readonly decisions: DecisionHistory,
    private readonly audit: AuditLog,
  ) {}

  /** `context.autonomy` for a call of this kind. */
  async facts(tenantId: string, kind: CallKind): Promise<AutonomyFacts> {
    return (await this.view(tenantId, kind)).autonomy;
  }

  async view(tenantId: string, kind: CallKind): Promise<AutonomyView> {
    const [marks] = await this.dataSource.query(
      `SELECT (SELECT activated_at FROM active_policy_sets WHERE tenant_id = $1) AS activated_at,
              r.reset_at, r.reset_by,
              (SELECT max(reviewed_at) FROM sampled_reviews s WHERE s.tenant_id = $1 AND s.agent_class = $2 AND s.server = $3 AND s.tool = $4
                  AND s.resource_classification = $5 AND s.status = 'flagged') AS last_flag,
              (SELECT count(*) FROM sampled_reviews s WHERE s.tenant_id = $1 AND s.agent_class = $2 AND s.server = $3 AND s.tool = $4
                  AND s.resource_classification = $5 AND s.status = 'flagged') AS flags
         FROM (SELECT 1) one
         LEFT JOIN autonomy_resets r ON r.tenant_id = $1 AND r.agent_class = $2 AND r.server = $3 AND r.tool = $4 AND r.resource_classification = $5`,
      [tenantId, kind.agentClass, kind.server, kind.tool, kind.classification],
    );
    const date = (v: unknown) => (v ? new Date(v as string) : null);
    const activatedAt = date(marks.activated_at);
    const resetAt = date(marks.reset_at);
    const lastFlag = date(marks.last_flag);
    const floors = [activatedAt, resetAt, lastFlag].filter((d): d is Date => d !== null);
    const floor = floors.length ? new Date(Math.max(...floors.map((d) => d.getTime()))) : null;
    const history = await this.decisions.of(tenantId, kind, floor);
    const now = Date.now();
    const streakFrom = [floor, history.lastDenialAt].filter((d): d is Date => d !== null);
    return {
      agent_class: kind.agentClass,
      server: kind.server,
      tool: kind.tool,
      resource_classification: kind.classification,
      autonomy: {
        consecutive_approvals: history.approvalsInStreak,
        approvals: history.approvals,
        denials: history.denials,
        flags: Number(marks.flags),
        days_since_last_denial: daysSince(history.lastDenialAt, now),
        days_since_last_flag: daysSince(lastFlag, now),
      },
      streak_since: streakFrom.length ? new Date(Math.max(...streakFrom.map((d) => d.getTime()))).toISOString() : null,
      last_denial_at: history.lastDenialAt?.toISOString() ?? null,
      last_flag_at: lastFlag?.toISOString() ?? null,
      policy_activated_at: activatedAt?.toISOString() ?? null,
      reset_at: resetAt?.toISOString() ?? null,
      reset_by: marks.reset_by ?? null,
    };
  }

  /** An admin restarts the streak of one kind of call (the history stays); audited with the streak it ended. */
  async reset(tenantId: string, kind: CallKind, by: string): Promise<AutonomyView> {
    const before = await this.view(tenantId, kind);
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO autonomy_resets (tenant_id, agent_class, server, tool, resource_classification, reset_at, reset_by) VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6)
         ON CONFLICT (tenant_id, agent_class, server, tool, resource_classification) DO UPDATE SET reset_at = EXCLUDED.reset_at, reset_by = EXCLUDED.reset_by`,
        [tenantId, kind.agentClass, kind.server, kind.tool, kind.classification, by],
      );
      await this.audit.append(manager, {
        tenantId,
        type: 'autonomy.reset',
        actor: by,
        data: {
          agent_class: kind.agentClass,
          server: kind.server,
          tool: kind.tool,
          resource_classification: kind.classification,
          ended_streak: before.autonomy.consecutive_approvals,
        },
      });
    });
    return this.view(tenantId, kind);
  }
}
