import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { VoteEvidence } from './passkeys/passkey-proof';
import type { StandingTerms } from './standing/standing-terms';

export type VoteDecision = 'approve' | 'deny';

/** One approver's vote with their reason-for-access statement. Unique per (request, approver). */
@Entity({ name: 'approval_votes' })
export class ApprovalVote {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'approval_id', type: 'text' }) approvalId: string;
  @Column({ name: 'approver_id', type: 'text' }) approverId: string;
  @Column({ name: 'via_group', type: 'text', nullable: true }) viaGroup: string | null;
  @Column({ type: 'text' }) decision: VoteDecision;
  /** The request's approver sets (by index) this approver could count in when they voted. */
  @Column({ name: 'eligible_sets', type: 'jsonb' }) eligibleSets: number[];
  @Column({ type: 'text' }) reason: string;
  @Column({ name: 'link_id', type: 'text' }) linkId: string;
  /** What an approving vote let stand beyond this call (standing/standing-terms.ts); null: this call only. */
  @Column({ type: 'jsonb', nullable: true }) standing: StandingTerms | null;
  /** The verified WebAuthn assertion that signed this vote (passkeys/passkey-proof.ts); null: the link alone. */
  @Column({ type: 'jsonb', nullable: true }) passkey: VoteEvidence | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
