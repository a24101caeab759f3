/**
 * The audit part owns the append-only event log. Here it is the minimum the approval lifecycle
 * needs: events written in the caller's transaction, so a state change and its audit event
 * commit together or not at all.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { canonicalJson } from '../common/canonical-json';
import { insertForEachRowOf, insertStatement, JsonText, Statement } from '../common/database/insert-statement';
import { contentHashOf, EventContent } from './audit-chain';
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
    return insertStatement(this.dataSource, AuditEvent, entries.map(hashedRow), paramOffset);
  }

  /** The same INSERT, made only if `source` (an earlier CTE of the statement, e.g. a conditional UPDATE's RETURNING) returned a row. */
  insertStatementIf(source: string, entries: AuditEntry[], paramOffset = 0): Statement {
    return insertForEachRowOf(this.dataSource, AuditEvent, entries.map(hashedRow), source, paramOffset);
  }
}

/**
 * The event's row with its content hash (audit-chain.ts, v2): its data is canonicalised once, and
 * stored as that text, so that what the verifier reads back encodes to the same bytes.
 */
function hashedRow(e: AuditEntry) {
  const content: EventContent = {
    tenant_id: e.tenantId,
    type: e.type,
    approval_id: e.approvalId ?? null,
    actor: e.actor ?? null,
    agent_id: e.agentId ?? null,
    delegator_id: e.delegatorId ?? null,
    mcp_session_id: e.mcpSessionId ?? null,
    a2a_interaction_id: e.a2aInteractionId ?? null,
    // The gateway's correlation id if it sent one, otherwise the HTTP request's own (as in the logs).
    request_id: e.requestId ?? currentRequestId() ?? null,
  };
  const data = canonicalData(e.data ?? {});
  return {
    tenantId: content.tenant_id,
    type: content.type,
    approvalId: content.approval_id,
    actor: content.actor,
    agentId: content.agent_id,
    delegatorId: content.delegator_id,
    mcpSessionId: content.mcp_session_id,
    a2aInteractionId: content.a2a_interaction_id,
    requestId: content.request_id,
    data: new JsonText(data),
    contentHash: contentHashOf(content, data),
  };
}

/**
 * The data's canonical JSON. A non-finite number is stored as null, as JSON.stringify wrote it
 * before (canonicalize refuses it). An unpaired surrogate still throws: Postgres would store U+FFFD
 * in its place and the hash would not match (input validation refuses them before they get here).
 */
function canonicalData(data: JsonObject): string {
  try {
    return canonicalJson(data);
  } catch {
    return canonicalJson(JSON.parse(JSON.stringify(data)));
  }
}
