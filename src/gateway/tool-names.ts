/**
 * How agents name an upstream's tool: `<server>__<tool>` (two underscores). Upstream names have
 * no "__" (gateway-config.ts), so the first "__" splits the name; the tool part may hold anything
 * the upstream uses, "__" included.
 */
export const TOOL_SEPARATOR = '__';

export function namespacedTool(server: string, tool: string): string {
  return `${server}${TOOL_SEPARATOR}${tool}`;
}

export function splitToolName(name: string): { server: string; tool: string } | undefined {
  const at = name.indexOf(TOOL_SEPARATOR);
  if (at <= 0 || at + TOOL_SEPARATOR.length >= name.length) return undefined;
  return { server: name.slice(0, at), tool: name.slice(at + TOOL_SEPARATOR.length) };
}
