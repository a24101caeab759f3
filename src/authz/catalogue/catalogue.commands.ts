import { z } from 'zod';
import { text } from '../../common/validation';

/** A server name is the first half of a tool's action ("<server>/<tool>"), so it has no "/". */
export const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** MCP's tool-name characters (SEP-986), plus "/" which some servers use as a separator. */
export const TOOL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$/;
const MAX_SCHEMA_BYTES = 64 * 1024;

const inputSchema = z
  .looseObject({ type: z.literal('object', { message: 'must be "object" (MCP tools take an object)' }) })
  .refine((s) => JSON.stringify(s).length <= MAX_SCHEMA_BYTES, { message: `must be at most ${MAX_SCHEMA_BYTES} bytes of JSON` });

/** One tool as MCP `tools/list` lists it; other fields MCP defines (outputSchema, icons, _meta) are accepted and not kept. */
export const catalogueToolSchema = z.object({
  name: z.string().regex(TOOL_NAME, { message: `must match ${TOOL_NAME.source}` }),
  title: text(200).optional(),
  description: z.string().max(8000).optional(),
  inputSchema,
  annotations: z.record(z.string(), z.unknown()).optional(),
});

/** The body of PUT /v1/catalogue/servers/:server: a `tools/list` result, as the server returned it. */
export const putServerToolsSchema = z
  .object({
    tools: z.array(catalogueToolSchema).max(500, { message: 'must list at most 500 tools' }),
  })
  .refine((r) => new Set(r.tools.map((t) => t.name)).size === r.tools.length, { message: 'must not list a tool name twice', path: ['tools'] });

export type CatalogueToolInput = z.output<typeof catalogueToolSchema>;
export type PutServerTools = z.output<typeof putServerToolsSchema>;
