import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { AttributeDecl } from './resource-schema';

/** A resource type a tenant declared: a Cedar entity type of its schema (resource-schema.ts). */
@Entity({ name: 'resource_types' })
export class ResourceTypeRow {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'text' }) name: string;
  @Column({ type: 'jsonb' }) attributes: Record<string, AttributeDecl>;
  @Column({ name: 'declared_at', type: 'timestamptz' }) declaredAt: Date;
  @Column({ name: 'declared_by', type: 'text' }) declaredBy: string;
}

/** One registered resource: the facts a decision about it reads, whatever the gateway says. */
@Entity({ name: 'resources' })
export class ResourceRow {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ type: 'text' }) type: string;
  @Column({ type: 'text' }) classification: string;
  @Column({ type: 'text' }) environment: string;
  @Column({ type: 'text' }) owner: string;
  /** As given (JSON), checked against the type's declaration when written. */
  @Column({ type: 'jsonb' }) attributes: Record<string, unknown>;
  @Column({ name: 'registered_at', type: 'timestamptz' }) registeredAt: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column({ name: 'updated_by', type: 'text' }) updatedBy: string;
}
