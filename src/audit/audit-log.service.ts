/**
 * The audit part owns the append-only event log. Here it is the minimum the approval lifecycle
 * needs: events written in the caller's transaction, so a state change and its audit event
 * commit together or not at all.
 */
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditEvent } from './audit-event.entity';
import type { JsonObject } from '../common/json';

export interface AuditEntry {
  tenantId: string;
  type: string;
  approvalId?: string | null;
  actor?: string | null;
  agentId?: string | null;
  delegatorId?: string | null;
  mcpSessionId?: string | null;
  a2aInteractionId?: string | null;
  requestId?: string | null;
  data?: JsonObject;
}

@Injectable()
export class AuditLog {
  /** Appends events inside the given transaction. */
  async append(manager: EntityManager, ...entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await manager.insert(
      AuditEvent,
      entries.map((e) => ({
        tenantId: e.tenantId,
        type: e.type,
        approvalId: e.approvalId ?? null,
        actor: e.actor ?? null,
        agentId: e.agentId ?? null,
        delegatorId: e.delegatorId ?? null,
        mcpSessionId: e.mcpSessionId ?? null,
        a2aInteractionId: e.a2aInteractionId ?? null,
        requestId: e.requestId ?? null,
        data: e.data ?? {},
      })),
    );
  }
}
