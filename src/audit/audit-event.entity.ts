import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { JsonObject } from '../common/json';

/** One row of the append-only audit log (the database refuses UPDATE, DELETE and TRUNCATE); its place in the hash chain is its row of `audit_seals` (audit-sealer.service.ts). */
@Entity({ name: 'audit_events' })
export class AuditEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ type: 'text' }) type: string;
  @Column({ name: 'approval_id', type: 'text', nullable: true }) approvalId: string | null;
  @Column({ type: 'text', nullable: true }) actor: string | null;
  @Column({ name: 'agent_id', type: 'text', nullable: true }) agentId: string | null;
  @Column({ name: 'delegator_id', type: 'text', nullable: true }) delegatorId: string | null;
  @Column({ name: 'mcp_session_id', type: 'text', nullable: true }) mcpSessionId: string | null;
  @Column({ name: 'a2a_interaction_id', type: 'text', nullable: true }) a2aInteractionId: string | null;
  @Column({ name: 'request_id', type: 'text', nullable: true }) requestId: string | null;
  @Column({ type: 'jsonb' }) data: JsonObject;
  @CreateDateColumn({ name: 'occurred_at', type: 'timestamptz' }) occurredAt: Date;
  /** SHA-256 of the canonical content, computed when the event is written (audit-chain.ts, v2); null for events written before. */
  @Column({ name: 'content_hash', type: 'text', nullable: true }) contentHash: string | null;
}
