import { InvalidRequest } from '../../common/errors/protocol-errors';
import type { ToolCall } from '../policy/policy-engine';
import { TenantCatalogue, toolAction } from './tenant-schema';

/**
 * A call to a catalogued tool as the engine evaluates it (its action and typed input); undefined
 * for a tool outside the catalogue, which is evaluated as `call_tool` as before (and, when the
 * tenant has a catalogue, denied `tool_not_in_catalogue` whatever that says: outsideCatalogue). Arguments that do
 * not match the tool's inputSchema are a 400 naming the member (`action.arguments.amount`).
 */
export function catalogueCall(
  catalogue: TenantCatalogue | undefined,
  action: { server: string; tool: string; arguments: Record<string, unknown> },
): ToolCall | undefined {
  const tool = catalogue?.tools.get(toolAction(action.server, action.tool));
  if (!tool) return undefined;
  const input = tool.input(action.arguments);
  if ('problems' in input) throw InvalidRequest.forFields(input.problems);
  return { action: tool.action, input: input.value };
}

/**
 * The built-in catalogue rule (reason `tool_not_in_catalogue`, whatever the policy says): once a
 * tenant has catalogued at least one tool, a call to any tool it has not catalogued, on any server
 * (a server it never registered included), is outside the catalogue. A tenant with no catalogued
 * tool at all (none ever registered, or every server deleted) keeps the behaviour from before
 * catalogues: every call is evaluated as `call_tool`, so policy sets written without one keep working.
 */
export function outsideCatalogue(catalogue: TenantCatalogue | undefined, action: { server: string; tool: string }): boolean {
  return !!catalogue && catalogue.tools.size > 0 && !catalogue.tools.has(toolAction(action.server, action.tool));
}
