import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { StandingScope } from './standing-terms';

/**
 * A standing approval: a human approved one call and let the approval stand for later calls of
 * the same agent (acting for the same human under the same delegation) to the same tool on the
 * same resource with the pinned arguments equal, for the rest of the MCP session or a window,
 * optionally for a number of uses. Created when the request it was granted on is approved.
 */
@Entity({ name: 'standing_approvals' })
export class StandingApproval {
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  /** The approval request whose approval stands (its id is in every decision it allows). */
  @Column({ name: 'approval_id', type: 'text' }) approvalId: string;
  @Column({ type: 'text' }) scope: StandingScope;
  @Column({ name: 'agent_id', type: 'text' }) agentId: string;
  @Column({ name: 'delegator_id', type: 'text' }) delegatorId: string;
  /** The delegation the approved call rested on: revoking it ends this. */
  @Column({ name: 'delegation_id', type: 'text', nullable: true }) delegationId: string | null;
  @Column({ type: 'text' }) server: string;
  @Column({ type: 'text' }) tool: string;
  @Column({ name: 'resource_id', type: 'text', nullable: true }) resourceId: string | null;
  /** For the session scope: the MCP session it is bound to. */
  @Column({ name: 'mcp_session_id', type: 'text', nullable: true }) mcpSessionId: string | null;
  /** Argument path → its value as canonical JSON (null: the path was absent and must stay absent). */
  @Column({ type: 'jsonb' }) pinned: Record<string, string | null>;
  /** The approvers whose votes granted it (each may list and revoke it). */
  @Column({ name: 'granted_by', type: 'jsonb' }) grantedBy: string[];
  @Column({ name: 'max_uses', type: 'int', nullable: true }) maxUses: number | null;
  @Column({ type: 'int' }) uses: number;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt: Date | null;
  @Column({ name: 'revoked_by', type: 'text', nullable: true }) revokedBy: string | null;
  /** Why it was ended before its time: revoked, delegation_revoked, person_disabled. */
  @Column({ name: 'ended_reason', type: 'text', nullable: true }) endedReason: string | null;
}

/** A standing approval as the API shows it. */
export function standingApprovalView(s: StandingApproval, now = new Date()) {
  const live = !s.revokedAt && s.expiresAt > now && (s.maxUses === null || s.uses < s.maxUses);
  return {
    id: s.id,
    approval_id: s.approvalId,
    scope: s.scope,
    status: live ? 'active' : s.revokedAt ? 'revoked' : s.expiresAt <= now ? 'expired' : 'used_up',
    agent_id: s.agentId,
    delegator_id: s.delegatorId,
    delegation_id: s.delegationId,
    server: s.server,
    tool: s.tool,
    resource_id: s.resourceId,
    mcp_session_id: s.mcpSessionId,
    pinned: Object.fromEntries(Object.entries(s.pinned).map(([k, v]) => [k, v === null ? null : JSON.parse(v)])),
    granted_by: s.grantedBy,
    max_uses: s.maxUses,
    uses: s.uses,
    expires_at: s.expiresAt.toISOString(),
    created_at: s.createdAt.toISOString(),
    last_used_at: s.lastUsedAt?.toISOString() ?? null,
    revoked_at: s.revokedAt?.toISOString() ?? null,
    revoked_by: s.revokedBy,
    ended_reason: s.endedReason,
  };
}
