import { AuditEntry } from '../audit/audit-log.service';
import { ApprovalRequest } from './approval-request.entity';

/** The correlation fields every approval audit event carries. */
export function auditContext(r: ApprovalRequest): Omit<AuditEntry, 'type'> {
  return {
    tenantId: r.tenantId,
    approvalId: r.id,
    agentId: r.agentId,
    delegatorId: r.delegatorId,
    mcpSessionId: r.mcpSessionId,
    a2aInteractionId: r.a2aInteractionId,
    requestId: r.requestId,
  };
}
