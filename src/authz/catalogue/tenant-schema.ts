/**
 * Schema per tenant: the base Cedar schema plus the tenant's resource types (entity types, and a
 * `context.<Type>` member each: authz/resources/resource-schema.ts) and one action per catalogued
 * tool. Each tool's action is a member of `Action::"call_tool"` and its context is the base facts
 * plus `input`, typed from the tool's inputSchema, so a policy for one tool validates strictly
 * against that tool's input:
 *
 *   permit (principal, action == Action::"payments-mcp/transfer_funds", resource)
 *   when { context.input.amount.lessThan(decimal("1000.00")) && context.input.currency == "EUR" };
 *
 * A catalogued call is evaluated as its tool's action; any other call as `call_tool`. A policy
 * scoped `action == Action::"call_tool"` is read as `action in Action::"call_tool"` (every tool
 * call, catalogued or not): rules written before a catalogue existed keep covering every call, and
 * registering a tool can never take it out from under a `forbid`. Plain TypeScript, no Nest.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CEDAR_SCHEMA, ToolAnnotations } from '../policy/cedar-schema';
import { toolAnnotations } from '../policy/entities';
import { addResourceTypes, ResourceTypeDecl } from '../resources/resource-schema';
import { cedarTypeOf, convertInput, InputProblem, InputShape, shapeOf } from './input-shape';

export const CALL_TOOL = 'call_tool';

/** The action of a catalogued tool: "<server>/<tool>" (a server name has no "/"). */
export const toolAction = (server: string, tool: string) => `${server}/${tool}`;

export interface CatalogueEntry {
  server: string;
  name: string;
  inputSchema: unknown;
  /** MCP's tool annotations as the server listed them (the Tool entity's `annotations`). */
  annotations?: unknown;
}

/** One catalogued tool, ready for decisions. */
export interface CatalogueTool {
  action: string;
  shape: InputShape;
  /** The annotations the schema declares (readOnlyHint, destructiveHint, …), for the Tool entity. */
  annotations: ToolAnnotations;
  /** Checks and converts a call's arguments; problems name members as `action.arguments.<path>`. */
  input(args: Record<string, unknown>): { value: Record<string, unknown> } | { problems: InputProblem[] };
}

/** A tenant's catalogue as the decision path uses it: tools by action, and the Cedar schema in force. */
export interface TenantCatalogue {
  revision: number;
  tools: Map<string, CatalogueTool>;
  schema: cedar.SchemaJson<string>;
}

type Namespace = cedar.NamespaceDefinition<string>;

let base: { text: string; json: cedar.SchemaJson<string> } | undefined;
function baseSchema(): cedar.SchemaJson<string> {
  if (base?.text !== CEDAR_SCHEMA) {
    const answer = cedar.schemaToJson(CEDAR_SCHEMA);
    if (answer.type !== 'success') throw new Error(`the base Cedar schema does not parse: ${answer.errors.map((e) => e.message).join('; ')}`);
    base = { text: CEDAR_SCHEMA, json: answer.json };
  }
  return base.json;
}

/** The attributes of call_tool's context, whether written inline or as a common type. */
function callToolContext(ns: Namespace): Record<string, unknown> {
  const context = ns.actions[CALL_TOOL]?.appliesTo?.context as Record<string, unknown> | undefined;
  const named = context && (context.type === 'EntityOrCommon' ? context.name : context.type);
  const resolved = (typeof named === 'string' && ns.commonTypes?.[named] ? ns.commonTypes[named] : context) as Record<string, unknown> | undefined;
  if (resolved?.type !== 'Record') throw new Error('the base Cedar schema has no record context for call_tool');
  return resolved.attributes as Record<string, unknown>;
}

function compileTool(entry: CatalogueEntry): CatalogueTool {
  const shape = shapeOf(entry.inputSchema);
  return {
    action: toolAction(entry.server, entry.name),
    shape,
    annotations: toolAnnotations(entry.annotations),
    input(args) {
      const result = convertInput(shape, args, 'action.arguments');
      if ('problems' in result) return result;
      return { value: (result.value as Record<string, unknown> | undefined) ?? {} };
    },
  };
}

/** The Cedar type of a tool's `context.input`: always a record (empty when the input is not an object we understand). */
export function inputType(shape: InputShape) {
  const t = shape.kind === 'record' ? cedarTypeOf(shape) : undefined;
  return t ?? { type: 'Record' as const, attributes: {} };
}

/** Base schema + resource types + one action per tool. Pure: the same entries always give the same schema. */
export function tenantCatalogue(revision: number, entries: CatalogueEntry[], resourceTypes: ResourceTypeDecl[] = []): TenantCatalogue {
  const schema = structuredClone(baseSchema());
  const ns = Object.values(schema).find((n) => n.actions[CALL_TOOL]);
  if (!ns) throw new Error('the base Cedar schema has no call_tool action');
  const applies = ns.actions[CALL_TOOL].appliesTo!;
  const facts = callToolContext(ns);
  // Before the tools: each tool's action copies call_tool's context, resource members included.
  addResourceTypes(ns, facts, resourceTypes);
  const tools = new Map<string, CatalogueTool>();
  for (const entry of [...entries].sort((x, y) => toolAction(x.server, x.name).localeCompare(toolAction(y.server, y.name)))) {
    const tool = compileTool(entry);
    tools.set(tool.action, tool);
    ns.actions[tool.action] = {
      memberOf: [{ id: CALL_TOOL }],
      appliesTo: {
        principalTypes: applies.principalTypes,
        resourceTypes: applies.resourceTypes,
        context: { type: 'Record', attributes: { ...facts, input: inputType(tool.shape) } },
      } as never,
    };
  }
  return { revision, tools, schema };
}

/**
 * The policies as the engine compiles them under a catalogue: a scope `action == Action::"call_tool"`
 * becomes `action in Action::"call_tool"` (see the header). Text that does not parse is passed on
 * unchanged, for the engine to report.
 */
export function widenCallTool(policies: Record<string, string>): Record<string, cedar.Policy> {
  const out: Record<string, cedar.Policy> = {};
  for (const [id, text] of Object.entries(policies)) {
    const json = cedar.policyToJson(text);
    const scope = json.type === 'success' ? (json.json.action as { op: string; entity?: { type: string; id: string } }) : undefined;
    if (json.type === 'success' && scope?.op === '==' && scope.entity?.type === 'Action' && scope.entity.id === CALL_TOOL) {
      out[id] = { ...json.json, action: { op: 'in', entity: scope.entity } } as cedar.PolicyJson;
    } else {
      out[id] = text;
    }
  }
  return out;
}
