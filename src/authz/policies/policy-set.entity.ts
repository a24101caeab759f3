import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One published, immutable version of a tenant's policy set (the database refuses edits). */
@Entity({ name: 'policy_sets' })
export class PolicySet {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'int' }) version: number;
  /** Cedar policies keyed by policy id. */
  @Column({ type: 'jsonb' }) policies: Record<string, string>;
  /** Overrides of the default tool → action-category mapping, keyed "server/tool" or "server/*". */
  @Column({ name: 'tool_categories', type: 'jsonb' }) toolCategories: Record<string, string>;
  @Column({ type: 'text', nullable: true }) description: string | null;
  @CreateDateColumn({ name: 'published_at', type: 'timestamptz' }) publishedAt: Date;
  @Column({ name: 'published_by', type: 'text' }) publishedBy: string;
}

/** Which version is in force for a tenant. */
@Entity({ name: 'active_policy_sets' })
export class ActivePolicySet {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ type: 'int' }) version: number;
  @Column({ name: 'activated_at', type: 'timestamptz' }) activatedAt: Date;
  @Column({ name: 'activated_by', type: 'text' }) activatedBy: string;
}
