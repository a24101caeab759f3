import { InvalidRequest } from '../../common/errors/protocol-errors';
import type { ToolCall } from '../policy/policy-engine';
import { TenantCatalogue, toolAction } from './tenant-schema';

/**
 * A call to a catalogued tool as the engine evaluates it (its action and typed input); undefined
 * for a tool outside the catalogue, which is evaluated as `call_tool` as before. Arguments that do
 * not match the tool's inputSchema are a 400 naming the member (`action.arguments.amount`).
 */
export function catalogueCall(catalogue: TenantCatalogue | undefined, action: { server: string; tool: string; arguments: Record<string, unknown> }): ToolCall | undefined {
  const tool = catalogue?.tools.get(toolAction(action.server, action.tool));
  if (!tool) return undefined;
  const input = tool.input(action.arguments);
  if ('problems' in input) throw InvalidRequest.forFields(input.problems);
  return { action: tool.action, input: input.value };
}
