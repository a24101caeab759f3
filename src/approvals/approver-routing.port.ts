import type { FieldProblem } from '../common/errors/protocol-errors';
import type { ApprovalRequest } from './approval-request.entity';

/** Who may vote on a request, as parking it and voting on it need to know. */
export interface ApproverObligation {
  tenantId: string;
  approvers: string[];
  escalateTo: string[];
  quorum: number;
  denyThreshold: number;
  delegatorId: string;
  agentOperator: string | null;
  independentApprovers: boolean;
}

/**
 * What the lifecycle needs from whoever knows the approvers and reaches them (the notifications
 * part provides it). The lifecycle itself knows no directory and no channel.
 */
export abstract class ApproverRouting {
  /** Problems with the named approvers (unknown person, empty group, a quorum nobody can reach), as 400 field errors. */
  abstract problemsWith(obligation: ApproverObligation): Promise<FieldProblem[]>;
  /** Whether `approverId` is (still) a member of `group`: a link vouches for membership only when it was sent. */
  abstract isGroupMember(tenantId: string, group: string, approverId: string): Promise<boolean>;
  /** After a request is committed: queue its notifications, escalation and reminder. */
  abstract parked(request: ApprovalRequest): Promise<void>;
  /** Rebuilds from Postgres whatever notification jobs open requests still need; returns how many. */
  abstract reconcile(): Promise<number>;
}
