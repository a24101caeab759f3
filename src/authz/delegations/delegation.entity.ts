import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * One hop of authority: `grantor` (the human, or an agent re-delegating) lets `grantee` (an agent)
 * use these tools on these resources for `human_id`. A sub-agent's delegation names its parent;
 * revoking a delegation revokes everything delegated from it.
 */
@Entity({ name: 'delegations' })
export class Delegation {
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'human_id', type: 'text' }) humanId: string;
  @Column({ name: 'grantor_id', type: 'text' }) grantorId: string;
  @Column({ name: 'grantee_id', type: 'text' }) granteeId: string;
  @Column({ name: 'parent_id', type: 'text', nullable: true }) parentId: string | null;
  /** Patterns "server/tool", "server/*" or "*". */
  @Column({ type: 'jsonb' }) tools: string[];
  /** Resource id patterns; null means any resource. */
  @Column({ type: 'jsonb', nullable: true }) resources: string[] | null;
  @Column({ type: 'text', nullable: true }) purpose: string | null;
  @Column({ name: 'not_before', type: 'timestamptz', nullable: true }) notBefore: Date | null;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt: Date | null;
  @Column({ name: 'revoked_by', type: 'text', nullable: true }) revokedBy: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'created_by', type: 'text' }) createdBy: string;
}

export function delegationView(d: Delegation) {
  return {
    id: d.id,
    human: d.humanId,
    grantor: d.grantorId,
    agent: d.granteeId,
    parent_id: d.parentId,
    tools: d.tools,
    resources: d.resources,
    purpose: d.purpose,
    not_before: d.notBefore?.toISOString() ?? null,
    expires_at: d.expiresAt?.toISOString() ?? null,
    revoked_at: d.revokedAt?.toISOString() ?? null,
    created_at: d.createdAt.toISOString(),
  };
}
