/**
 * What makes parked calls one batch for an approver: the same agent doing the same task. The task
 * is the intent's id (the envelope's `intent.id`, the task id the gateway gave); a call that named
 * no task is grouped by its MCP session instead (the envelope's `correlation.mcp_session_id`). A
 * call with neither belongs to no batch. Pure.
 */
export type BatchScope = { agentId: string; taskId: string } | { agentId: string; mcpSessionId: string };

export interface BatchScoped {
  agentId: string;
  intent: Record<string, unknown>;
  mcpSessionId: string | null;
}

export function batchScopeOf(r: BatchScoped): BatchScope | null {
  const task = r.intent.id;
  if (typeof task === 'string' && task !== '') return { agentId: r.agentId, taskId: task };
  if (r.mcpSessionId) return { agentId: r.agentId, mcpSessionId: r.mcpSessionId };
  return null;
}

export function sameScope(a: BatchScope | null, b: BatchScope): boolean {
  if (!a || a.agentId !== b.agentId) return false;
  return 'taskId' in a ? 'taskId' in b && a.taskId === b.taskId : 'mcpSessionId' in b && a.mcpSessionId === b.mcpSessionId;
}
