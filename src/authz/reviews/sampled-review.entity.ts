import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { JsonObject } from '../../common/json';

export type ReviewStatus = 'pending' | 'looks_right' | 'flagged';
export type ReviewAnswer = 'looks_right' | 'flag';

/** One allowed call that its policy's `@sampled_review` sent to a human after the fact (id `rev_…`). */
@Entity({ name: 'sampled_reviews' })
export class SampledReview {
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  /** The decision that allowed the call; with the tenant, what the sample was drawn from (review-sample.ts). */
  @Column({ name: 'decision_id', type: 'text' }) decisionId: string;
  @Column({ type: 'double precision' }) rate: number;
  @Column({ type: 'double precision' }) sample: number;
  /** As the policy named them ("delegator", "user:<id>", "group:<name>"). */
  @Column({ type: 'jsonb' }) reviewers: string[];
  @Column({ name: 'agent_id', type: 'text' }) agentId: string;
  @Column({ name: 'agent_class', type: 'text' }) agentClass: string;
  @Column({ name: 'delegator_id', type: 'text' }) delegatorId: string;
  @Column({ type: 'text' }) server: string;
  @Column({ type: 'text' }) tool: string;
  @Column({ type: 'jsonb' }) arguments: JsonObject;
  @Column({ name: 'resource_id', type: 'text', nullable: true }) resourceId: string | null;
  @Column({ name: 'resource_classification', type: 'text' }) resourceClassification: string;
  @Column({ type: 'text' }) environment: string;
  @Column({ name: 'mcp_session_id', type: 'text', nullable: true }) mcpSessionId: string | null;
  @Column({ type: 'text' }) status: ReviewStatus;
  @Column({ type: 'text', nullable: true }) reason: string | null;
  @Column({ name: 'reviewed_by', type: 'text', nullable: true }) reviewedBy: string | null;
  /** The link the answer came with (each link answers once; a review is answered once). */
  @Column({ name: 'link_jti', type: 'text', nullable: true }) linkJti: string | null;
  @Column({ name: 'notified_at', type: 'timestamptz', nullable: true }) notifiedAt: Date | null;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'reviewed_at', type: 'timestamptz', nullable: true }) reviewedAt: Date | null;
}
