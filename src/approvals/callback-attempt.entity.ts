import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type CallbackOutcome = 'delivered' | 'retrying' | 'failed' | 'refused';

/** Every attempt to deliver a ping/push callback, so ops read the truth from the database. */
@Entity({ name: 'callback_attempts' })
export class CallbackAttempt {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'approval_id', type: 'text' }) approvalId: string;
  @Column({ type: 'int' }) attempt: number;
  @Column({ type: 'text' }) mode: string;
  @Column({ type: 'text' }) endpoint: string;
  @Column({ name: 'status_code', type: 'int', nullable: true }) statusCode: number | null;
  @Column({ type: 'text' }) outcome: CallbackOutcome;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ name: 'duration_ms', type: 'int' }) durationMs: number;
  /** The Idempotency-Key header the attempt carried (null for attempts before it existed). */
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
