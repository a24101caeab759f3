import type { HopGrant } from '../../authz/policy/delegation-chain';
import type { PersonStatus } from './directory.commands';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A person who can approve: obligations name them as "user:<id>" (or "delegator" when they delegated). */
@Entity({ name: 'approvers' })
export class Approver {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'text' }) id: string;
  @Column({ name: 'display_name', type: 'text' }) displayName: string;
  /** Null when the approver is reached by push only. */
  @Column({ type: 'text', nullable: true }) email: string | null;
  /** What the person may use themselves (delegation patterns); null: none recorded, unrestricted. */
  @Column({ type: 'jsonb', nullable: true }) entitlements: HopGrant | null;
  /** "disabled": their agents' calls are denied (`human_disabled`) and their votes refused. */
  @Column({ type: 'text', default: 'active' }) status: PersonStatus;
  /** Directory attributes (department, cost centre, …): the User entity's tags in policies. */
  @Column({ type: 'jsonb', default: {} }) attributes: Record<string, string>;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}

/** A named set of approvers: obligations name it as "group:<name>". */
@Entity({ name: 'approver_groups' })
export class ApproverGroup {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ type: 'text' }) name: string;
  @Column({ name: 'display_name', type: 'text' }) displayName: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}

@Entity({ name: 'approver_group_members' })
export class ApproverGroupMember {
  @PrimaryColumn({ name: 'tenant_id', type: 'text' }) tenantId: string;
  @PrimaryColumn({ name: 'group_name', type: 'text' }) groupName: string;
  @PrimaryColumn({ name: 'approver_id', type: 'text' }) approverId: string;
}
