/**
 * The audit part owns the append-only event log. Here it is the minimum the approval lifecycle
 * needs: events written in the caller's transaction, so a state change and its audit event
 * commit together or not at all.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { insertStatement, Statement } from '../common/database/insert-statement';
import { AuditEvent } from './audit-event.entity';
import { currentRequestId } from '../common/logging/request-context';
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
  constructor(private readonly dataSource: DataSource) {}

  /** Appends events inside the given transaction. */
  async append(manager: EntityManager, ...entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { sql, params } = this.insertStatement(entries);
    await manager.query(sql, params);
  }

  /**
   * The INSERT for these events, for a caller that combines it with its own state change in
   * one statement (`WITH change AS (…) INSERT INTO audit_events …`). Parameters are numbered
   * from `paramOffset + 1`.
   */
  insertStatement(entries: AuditEntry[], paramOffset = 0): Statement {
    return insertStatement(
      this.dataSource,
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
        // The gateway's correlation id if it sent one, otherwise the HTTP request's own (as in the logs).
        requestId: e.requestId ?? currentRequestId() ?? null,
        data: e.data ?? {},
      })),
      paramOffset,
    );
  }
}
