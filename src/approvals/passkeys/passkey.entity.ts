import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { BatchBinding, DecisionBinding, ManagementBinding } from './passkey-proof';

/** One approver's passkey (a WebAuthn credential) in one tenant. */
@Entity({ name: 'passkey_credentials' })
export class PasskeyCredential {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'approver_id', type: 'text' }) approverId: string;
  /** The credential id as the authenticator gave it (base64url). */
  @Column({ name: 'credential_id', type: 'text' }) credentialId: string;
  /** The COSE public key (base64url). */
  @Column({ name: 'public_key', type: 'text' }) publicKey: string;
  /** The last signature counter seen; a later assertion must carry a higher one (unless both stay 0). */
  @Column({ type: 'bigint' }) counter: string;
  @Column({ type: 'jsonb' }) transports: string[];
  @Column({ type: 'text', nullable: true }) name: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt: Date | null;
}

/** A challenge the service issued: single-use (deleted when used) and short-lived. */
@Entity({ name: 'passkey_challenges' })
export class PasskeyChallenge {
  @PrimaryColumn({ type: 'text' }) challenge: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'approver_id', type: 'text' }) approverId: string;
  @Column({ type: 'text' }) purpose: 'registration' | 'decision' | 'management' | 'batch_decision';
  @Column({ name: 'approval_id', type: 'text', nullable: true }) approvalId: string | null;
  /** For a decision, a batch of decisions or a management action: what the challenge binds (its hash is the challenge). */
  @Column({ type: 'jsonb', nullable: true }) bound: DecisionBinding | BatchBinding | ManagementBinding | null;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

/** An approver's "always decide with my passkey" choice. */
@Entity({ name: 'passkey_preferences' })
export class PasskeyPreference {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ name: 'approver_id', type: 'text' }) approverId: string;
  @Column({ type: 'boolean' }) always: boolean;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
