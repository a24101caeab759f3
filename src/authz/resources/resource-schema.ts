/**
 * The resource types a tenant declares, as Cedar sees them. Each type becomes an entity type of
 * the tenant's schema with the attributes every resource has (`classification`, `environment`,
 * `owner: User`) and the ones the tenant declares; a registered resource is an entity of its type.
 *
 * The Cedar `resource` of a decision stays the tool (existing sets scope and read it: `resource in
 * Server::"hr"`, `resource.annotations`), so the resource the call is about reaches policies
 * through the context. Cedar types a context member with one type, and has no union of entity
 * types (`context.resource is Document` would validate as always false whenever the member's type
 * is not Document), so each declared type gets its own optional member, named after the type:
 *
 *   forbid (principal, action == Action::"call_tool", resource)
 *   when { context has Document && context.Document.classification == "confidential" }
 *   unless { context.Document.owner == context.user };
 *
 * `context.<Type>` is present when the call's resource id is registered with that type. Base
 * context members are lower-case and type names upper-case, so the two never meet. Plain
 * TypeScript, no Nest.
 */
import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { toCedarDecimal } from '../catalogue/cedar-decimal';

/** A problem with one attribute of a resource, named by its path (the shape InvalidRequest.forFields takes). */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The attribute types a declaration may use, and the Cedar type each becomes. */
export const ATTRIBUTE_TYPES = ['string', 'long', 'boolean', 'decimal', 'set<string>'] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

export interface AttributeDecl {
  type: AttributeType;
  /** Absent from some resources: a policy reads it after `has`. */
  optional?: boolean;
}

/** One declared resource type: its name (a Cedar entity type) and its own attributes. */
export interface ResourceTypeDecl {
  name: string;
  attributes: Record<string, AttributeDecl>;
}

/** A Cedar entity type name of the tenant's own: upper-case first, so it never meets a base context member. */
export const TYPE_NAME = /^[A-Z][A-Za-z0-9_]{0,63}$/;
/** An attribute name: lower-case first (type names are upper-case), Cedar identifier characters. */
export const ATTRIBUTE_NAME = /^[a-z][A-Za-z0-9_]{0,63}$/;

/** What every resource has, whatever its type (so a declaration cannot name them). */
export const BASE_ATTRIBUTES = ['classification', 'environment', 'owner'] as const;

/**
 * Names a tenant's type may not take: the base schema's entity and common types, and the names
 * Cedar's schema syntax resolves to built-in types (an entity type `String` would shadow them).
 */
export const RESERVED_TYPE_NAMES = new Set([
  'Group',
  'User',
  'AgentClass',
  'Agent',
  'ToolCategory',
  'Server',
  'Tool',
  'WallClock',
  'ToolAnnotations',
  'Action',
  'String',
  'Long',
  'Bool',
  'Boolean',
  'Set',
  'Record',
  'Entity',
  'Extension',
  'EntityOrCommon',
]);
/** Cedar's reserved words, which cannot follow a `.` in a policy. */
export const RESERVED_ATTRIBUTE_NAMES = new Set([
  ...BASE_ATTRIBUTES,
  'true',
  'false',
  'if',
  'then',
  'else',
  'in',
  'is',
  'like',
  'has',
  'permit',
  'forbid',
  'when',
  'unless',
  'principal',
  'action',
  'resource',
  'context',
]);

/**
 * The name a gateway's `resource.type` is compared by: case, `_` and `-` do not count, so a gateway
 * that has always sent `bank_account` names the type declared as `BankAccount`.
 */
export const typeKey = (name: string) => name.toLowerCase().replace(/[_-]/g, '');

const CEDAR_TYPES: Record<AttributeType, cedar.Type<string>> = {
  string: { type: 'String' },
  long: { type: 'Long' },
  boolean: { type: 'Boolean' },
  decimal: { type: 'Extension', name: 'decimal' },
  'set<string>': { type: 'Set', element: { type: 'String' } },
} as Record<AttributeType, cedar.Type<string>>;

/** The Cedar shape of a type's entities: the base attributes, then the declared ones. */
export function entityShape(decl: ResourceTypeDecl) {
  const attributes: Record<string, unknown> = {
    classification: { type: 'String' },
    environment: { type: 'String' },
    owner: { type: 'Entity', name: 'User' },
  };
  for (const [name, a] of Object.entries(decl.attributes).sort(([x], [y]) => x.localeCompare(y))) {
    attributes[name] = { ...CEDAR_TYPES[a.type], ...(a.optional ? { required: false } : {}) };
  }
  return { type: 'Record' as const, attributes };
}

/**
 * Adds the declared types to a schema namespace: one entity type each, and one optional context
 * member each on `contextAttributes` (call_tool's context, which every tool's action copies).
 */
export function addResourceTypes(ns: cedar.NamespaceDefinition<string>, contextAttributes: Record<string, unknown>, decls: ResourceTypeDecl[]): void {
  for (const decl of [...decls].sort((x, y) => x.name.localeCompare(y.name))) {
    if (ns.entityTypes[decl.name] || RESERVED_TYPE_NAMES.has(decl.name)) throw new Error(`resource type ${decl.name} collides with the base schema`);
    ns.entityTypes[decl.name] = { shape: entityShape(decl) } as never;
    contextAttributes[decl.name] = { type: 'Entity', name: decl.name, required: false };
  }
}

/**
 * Checks a resource's attributes against its type and converts them to Cedar's JSON values
 * (decimals as `decimal("…")` escapes). Problems name the member as `<prefix>.<name>`.
 */
export function convertAttributes(
  decl: ResourceTypeDecl,
  values: Record<string, unknown>,
  prefix = 'attributes',
): { value: Record<string, cedar.CedarValueJson> } | { problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const value: Record<string, cedar.CedarValueJson> = {};
  for (const name of Object.keys(values).sort()) {
    if (!Object.hasOwn(decl.attributes, name))
      problems.push({
        field: `${prefix}.${name}`,
        message: `is not an attribute of ${decl.name} (declared: ${Object.keys(decl.attributes).sort().join(', ') || 'none'})`,
      });
  }
  for (const [name, a] of Object.entries(decl.attributes).sort(([x], [y]) => x.localeCompare(y))) {
    const field = `${prefix}.${name}`;
    if (!Object.hasOwn(values, name) || values[name] === undefined) {
      if (!a.optional) problems.push({ field, message: `is required (a ${a.type} attribute of ${decl.name})` });
      continue;
    }
    const converted = convertValue(a.type, values[name], field);
    if ('problem' in converted) problems.push(converted.problem);
    else value[name] = converted.value;
  }
  return problems.length ? { problems } : { value };
}

const MAX_STRING = 1024;
const MAX_SET = 256;

function convertValue(type: AttributeType, v: unknown, field: string): { value: cedar.CedarValueJson } | { problem: FieldProblem } {
  const wrong = (message: string) => ({ problem: { field, message } });
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  const string = (s: unknown, at: string) =>
    typeof s !== 'string'
      ? { problem: { field: at, message: `must be a string, not ${s === null ? 'null' : Array.isArray(s) ? 'array' : typeof s}` } }
      : s.length > MAX_STRING
        ? { problem: { field: at, message: `must be at most ${MAX_STRING} characters` } }
        : { value: s };
  switch (type) {
    case 'string':
      return string(v, field);
    case 'boolean':
      return typeof v === 'boolean' ? { value: v } : wrong(`must be a boolean, not ${kind}`);
    case 'long':
      if (typeof v !== 'number') return wrong(`must be an integer, not ${kind}`);
      return Number.isSafeInteger(v) ? { value: v } : wrong('must be an integer between -(2^53 - 1) and 2^53 - 1');
    case 'decimal': {
      if (typeof v !== 'number') return wrong(`must be a number, not ${kind}`);
      const d = toCedarDecimal(v);
      return d === undefined
        ? wrong('must have at most 4 decimal places and lie within ±922,337,203,685,477')
        : { value: { __extn: { fn: 'decimal', arg: d } } };
    }
    case 'set<string>': {
      if (!Array.isArray(v)) return wrong(`must be an array of strings, not ${kind}`);
      if (v.length > MAX_SET) return wrong(`must have at most ${MAX_SET} members`);
      const out: string[] = [];
      for (const [i, item] of v.entries()) {
        const s = string(item, `${field}.${i}`);
        if ('problem' in s) return s as { problem: FieldProblem };
        out.push(s.value);
      }
      return { value: [...new Set(out)].sort() };
    }
  }
}
