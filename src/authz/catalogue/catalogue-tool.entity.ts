import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A tenant's catalogue as a whole: its revision moves with every change. */
@Entity({ name: 'tool_catalogues' })
export class ToolCatalogueRevision {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  /** bigint comes back from pg as a string. */
  @Column({ type: 'bigint' }) revision: string;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column({ name: 'updated_by', type: 'text' }) updatedBy: string;
}

/** One tool of one MCP server, as its `tools/list` describes it. */
@Entity({ name: 'catalogue_tools' })
export class CatalogueToolRow {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'text' }) server: string;
  @PrimaryColumn({ type: 'text' }) name: string;
  @Column({ type: 'text', nullable: true }) title: string | null;
  @Column({ type: 'text', nullable: true }) description: string | null;
  @Column({ name: 'input_schema', type: 'jsonb' }) inputSchema: Record<string, unknown>;
  @Column({ type: 'jsonb', nullable: true }) annotations: Record<string, unknown> | null;
  @Column({ name: 'registered_at', type: 'timestamptz' }) registeredAt: Date;
  @Column({ name: 'registered_by', type: 'text' }) registeredBy: string;
}
