import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** initial: when parked; escalation: after escalate_after; reminder: after remind_after. */
export type NotificationRound = 'initial' | 'escalation' | 'reminder';
export type NotificationChannel = 'email' | 'push';
export type DeliveryStatus = 'queued' | 'sent' | 'failed' | 'skipped';

/**
 * One notification owed to one approver on one channel in one round of an approval request, or to
 * one reviewer on one channel for a sampled review; unique, so queuing it twice is a no-op.
 */
@Entity({ name: 'notification_deliveries' })
export class NotificationDelivery {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  /** Set for an approval's delivery, with its round; null for a review's. */
  @Column({ name: 'approval_id', type: 'text', nullable: true }) approvalId: string | null;
  @Column({ type: 'text', nullable: true }) round: NotificationRound | null;
  /** Set for a sampled review's delivery (reviews/notify-reviewers.usecase.ts). */
  @Column({ name: 'review_id', type: 'text', nullable: true }) reviewId: string | null;
  @Column({ name: 'approver_id', type: 'text' }) approverId: string;
  @Column({ name: 'via_group', type: 'text', nullable: true }) viaGroup: string | null;
  @Column({ type: 'text' }) channel: NotificationChannel;
  @Column({ type: 'text' }) status: DeliveryStatus;
  @Column({ type: 'int' }) attempts: number;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true }) sentAt: Date | null;
}

/** Every try at a delivery: to which address or subscription, and what came of it. */
@Entity({ name: 'notification_attempts' })
export class NotificationAttempt {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @Column({ name: 'delivery_id', type: 'bigint' }) deliveryId: string;
  @Column({ type: 'text' }) channel: NotificationChannel;
  @Column({ type: 'int' }) attempt: number;
  /** The email address, or the push subscription's id (never its endpoint's secret path). */
  @Column({ type: 'text' }) target: string;
  /** gone: the push service said the subscription no longer exists (404/410); it was deleted. */
  @Column({ type: 'text' }) status: 'sent' | 'failed' | 'gone' | 'skipped';
  @Column({ type: 'text', nullable: true }) error: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
