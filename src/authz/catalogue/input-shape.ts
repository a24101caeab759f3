/**
 * A catalogued tool's input: what Countersign understands of its JSON Schema `inputSchema`, the
 * Cedar type of `context.input` derived from it, and the check-and-convert of a call's arguments
 * into a value of that type. One tree drives all three, so a value that passes the check always
 * has the Cedar type the policies were validated against. Plain TypeScript, no Nest.
 *
 * Supported (checked, and visible to policies):
 *   string (enum/const of strings, minLength, maxLength, pattern)  → String
 *   integer (minimum, maximum, exclusiveMinimum, exclusiveMaximum)  → Long (a JS safe integer)
 *   number (the same bounds)                                        → decimal (at most 4 decimals)
 *   boolean                                                         → Bool
 *   array with `items` of a supported type (minItems, maxItems)     → Set<T>
 *   object with `properties` (required, additionalProperties:false) → a record; a member not
 *                                                                     in `required` is optional
 *   `type: [T, "null"]` or `anyOf`/`oneOf` of [T, {type: "null"}]  → T, optional (null = absent)
 * Not supported (the member is left out of `context.input`; its value is not checked here, the
 * MCP server still checks it): anyOf/oneOf/allOf otherwise, $ref, `not`, if/then/else, maps
 * (objects with no `properties`), arrays without `items` or of unsupported items, tuples, enums
 * that are not all strings, several non-null types, and members named `__…` (Cedar's JSON reserves
 * `__extn`/`__entity`). A required member that is left out must still be present.
 * Keywords that do not change the type (format, multipleOf, uniqueItems, default, examples,
 * description, title) are not checked.
 */
import { toCedarDecimal } from './cedar-decimal';

export type InputShape =
  | { kind: 'string'; enum?: string[]; minLength?: number; maxLength?: number; pattern?: RegExp }
  | { kind: 'long' | 'decimal'; minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number }
  | { kind: 'bool' }
  | { kind: 'set'; items: InputShape; minItems?: number; maxItems?: number }
  | { kind: 'record'; members: Record<string, Member>; closed: boolean }
  /** Outside the supported subset: not in the Cedar type, not checked. */
  | { kind: 'unchecked'; why: string };

export interface Member {
  shape: InputShape;
  /** Must be present in the arguments (JSON Schema `required`). */
  required: boolean;
  /** May be null; null is passed to Cedar as an absent member. */
  nullable: boolean;
}

/** A Cedar JSON-schema type (the subset we emit). */
export type CedarType =
  | { type: 'String' | 'Long' | 'Boolean' }
  | { type: 'Extension'; name: 'decimal' }
  | { type: 'Set'; element: CedarType }
  | { type: 'Record'; attributes: Record<string, CedarType & { required?: boolean }> };

export interface InputProblem {
  field: string;
  message: string;
}

const MAX_DEPTH = 16;
const RESERVED = /^__/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const count = (v: unknown): number | undefined => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);

/** `T` or `null`, written any of the usual ways; `undefined` when the schema is not of that form. */
function withoutNull(schema: Json): { schema: Json; nullable: boolean } {
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== 'null');
    if (types.length === 1 && schema.type.length === 2) return { schema: { ...schema, type: types[0] }, nullable: true };
    return { schema, nullable: false };
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (!Array.isArray(options) || options.length !== 2) continue;
    const rest = options.filter((o) => !(isObject(o) && o.type === 'null'));
    if (rest.length === 1 && isObject(rest[0])) {
      const { [key]: _, ...others } = schema;
      return { schema: { ...others, ...rest[0] }, nullable: true };
    }
  }
  return { schema, nullable: false };
}

/** Reads a JSON Schema (draft 2020-12 or 07, as MCP tools publish them) into the supported subset. */
export function shapeOf(schema: unknown, depth = 0): InputShape {
  if (!isObject(schema)) return { kind: 'unchecked', why: 'not a schema object' };
  if (depth > MAX_DEPTH) return { kind: 'unchecked', why: `nested deeper than ${MAX_DEPTH}` };
  for (const k of ['$ref', 'allOf', 'anyOf', 'oneOf', 'not', 'if', '$dynamicRef']) {
    if (k in schema) return { kind: 'unchecked', why: `uses ${k}` };
  }
  const values = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
  let type = schema.type;
  if (type === undefined && values && values.length && values.every((v) => typeof v === 'string')) type = 'string';
  if (typeof type !== 'string') return { kind: 'unchecked', why: type === undefined ? 'has no type' : 'has several types' };
  if (values && !(type === 'string' && values.length && values.every((v) => typeof v === 'string'))) {
    return { kind: 'unchecked', why: 'an enum or const that is not all strings' };
  }
  switch (type) {
    case 'string': {
      let pattern: RegExp | undefined;
      if (typeof schema.pattern === 'string') {
        try {
          pattern = new RegExp(schema.pattern, 'u');
        } catch {
          return { kind: 'unchecked', why: 'a pattern that is not an ECMAScript regular expression' };
        }
      }
      return { kind: 'string', enum: values as string[] | undefined, minLength: count(schema.minLength), maxLength: count(schema.maxLength), pattern };
    }
    case 'integer':
    case 'number':
      return {
        kind: type === 'integer' ? 'long' : 'decimal',
        minimum: num(schema.minimum),
        maximum: num(schema.maximum),
        // Draft 4 wrote exclusiveMinimum as a boolean beside minimum.
        exclusiveMinimum: schema.exclusiveMinimum === true ? num(schema.minimum) : num(schema.exclusiveMinimum),
        exclusiveMaximum: schema.exclusiveMaximum === true ? num(schema.maximum) : num(schema.exclusiveMaximum),
      };
    case 'boolean':
      return { kind: 'bool' };
    case 'array': {
      if (!isObject(schema.items)) return { kind: 'unchecked', why: 'an array without one `items` schema' };
      if ('prefixItems' in schema) return { kind: 'unchecked', why: 'a tuple' };
      const items = shapeOf(schema.items, depth + 1);
      if (items.kind === 'unchecked') return { kind: 'unchecked', why: `an array of items that ${items.why}` };
      return { kind: 'set', items, minItems: count(schema.minItems), maxItems: count(schema.maxItems) };
    }
    case 'object': {
      if (!isObject(schema.properties)) return { kind: 'unchecked', why: 'an object without `properties` (a map)' };
      const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
      const members: Record<string, Member> = {};
      for (const [name, sub] of Object.entries(schema.properties)) {
        const { schema: inner, nullable } = isObject(sub) ? withoutNull(sub) : { schema: sub, nullable: false };
        const shape = RESERVED.test(name) ? { kind: 'unchecked' as const, why: 'a name Cedar reserves (__…)' } : shapeOf(inner, depth + 1);
        members[name] = { shape, required: required.has(name), nullable };
      }
      // A required name with no property schema still has to be there.
      for (const name of required) members[name] ??= { shape: { kind: 'unchecked', why: 'no property schema' }, required: true, nullable: true };
      return { kind: 'record', members, closed: schema.additionalProperties === false };
    }
    default:
      return { kind: 'unchecked', why: `type "${type}"` };
  }
}

/** The Cedar type of a value of this shape; undefined for a shape left out of the Cedar type. */
export function cedarTypeOf(shape: InputShape): CedarType | undefined {
  switch (shape.kind) {
    case 'string':
      return { type: 'String' };
    case 'long':
      return { type: 'Long' };
    case 'decimal':
      return { type: 'Extension', name: 'decimal' };
    case 'bool':
      return { type: 'Boolean' };
    case 'set': {
      const element = cedarTypeOf(shape.items);
      return element && { type: 'Set', element };
    }
    case 'record': {
      const attributes: Record<string, CedarType & { required?: boolean }> = {};
      for (const [name, m] of Object.entries(shape.members)) {
        const t = cedarTypeOf(m.shape);
        if (t) attributes[name] = { ...t, required: m.required && !m.nullable };
      }
      return { type: 'Record', attributes };
    }
    case 'unchecked':
      return undefined;
  }
}

/** The members left out of the Cedar type, with why: shown to the admin who registers the tool. */
export function uncheckedMembers(shape: InputShape, path = 'input'): { member: string; why: string }[] {
  if (shape.kind === 'unchecked') return [{ member: path, why: shape.why }];
  if (shape.kind === 'set') return uncheckedMembers(shape.items, `${path}[]`);
  if (shape.kind !== 'record') return [];
  return Object.entries(shape.members).flatMap(([name, m]) => uncheckedMembers(m.shape, `${path}.${name}`));
}

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * Checks a call's arguments against the shape and converts them into the Cedar JSON value of
 * `context.input` (numbers as decimal escapes). Every problem names the member by its path.
 */
export function convertInput(shape: InputShape, value: unknown, field: string): { value: unknown } | { problems: InputProblem[] } {
  const problems: InputProblem[] = [];
  const out = convert(shape, value, field, problems);
  return problems.length ? { problems } : { value: out };
}

function convert(shape: InputShape, value: unknown, field: string, problems: InputProblem[]): unknown {
  const fail = (message: string) => {
    problems.push({ field, message });
    return undefined;
  };
  switch (shape.kind) {
    case 'unchecked':
      return undefined;
    case 'string': {
      if (typeof value !== 'string') return fail(`must be a string, not ${typeName(value)}`);
      if (shape.enum && !shape.enum.includes(value)) return fail(`must be one of ${shape.enum.map((e) => JSON.stringify(e)).join(', ')}`);
      // JSON Schema counts code points, not UTF-16 units.
      const length = shape.minLength !== undefined || shape.maxLength !== undefined ? [...value].length : 0;
      if (shape.minLength !== undefined && length < shape.minLength) return fail(`must be at least ${shape.minLength} characters`);
      if (shape.maxLength !== undefined && length > shape.maxLength) return fail(`must be at most ${shape.maxLength} characters`);
      if (shape.pattern && !shape.pattern.test(value)) return fail(`must match ${shape.pattern.source}`);
      return value;
    }
    case 'long':
    case 'decimal': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`must be a number, not ${typeName(value)}`);
      if (shape.kind === 'long' && !Number.isInteger(value)) return fail('must be an integer');
      if (shape.minimum !== undefined && value < shape.minimum) return fail(`must be at least ${shape.minimum}`);
      if (shape.maximum !== undefined && value > shape.maximum) return fail(`must be at most ${shape.maximum}`);
      if (shape.exclusiveMinimum !== undefined && value <= shape.exclusiveMinimum) return fail(`must be more than ${shape.exclusiveMinimum}`);
      if (shape.exclusiveMaximum !== undefined && value >= shape.exclusiveMaximum) return fail(`must be less than ${shape.exclusiveMaximum}`);
      if (shape.kind === 'long') {
        // Cedar's Long is 64-bit, but a JSON number beyond 2^53 has already lost its exact value.
        if (!Number.isSafeInteger(value)) return fail(`must be an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}`);
        return value;
      }
      const arg = toCedarDecimal(value);
      if (arg === undefined) return fail('must have at most 4 decimal places and lie between -922337203685477.5808 and 922337203685477.5807');
      return { __extn: { fn: 'decimal', arg } };
    }
    case 'bool':
      return typeof value === 'boolean' ? value : fail(`must be a boolean, not ${typeName(value)}`);
    case 'set': {
      if (!Array.isArray(value)) return fail(`must be an array, not ${typeName(value)}`);
      if (shape.minItems !== undefined && value.length < shape.minItems) return fail(`must have at least ${shape.minItems} items`);
      if (shape.maxItems !== undefined && value.length > shape.maxItems) return fail(`must have at most ${shape.maxItems} items`);
      return value.map((item, i) => convert(shape.items, item, `${field}[${i}]`, problems));
    }
    case 'record': {
      if (!isObject(value)) return fail(`must be an object, not ${typeName(value)}`);
      const out: Record<string, unknown> = {};
      for (const [name, m] of Object.entries(shape.members)) {
        const member = `${field}.${name}`;
        if (!Object.prototype.hasOwnProperty.call(value, name) || value[name] === undefined) {
          if (m.required) problems.push({ field: member, message: 'is required' });
          continue;
        }
        if (value[name] === null && m.nullable) continue;
        const converted = convert(m.shape, value[name], member, problems);
        if (converted !== undefined) out[name] = converted;
      }
      if (shape.closed) {
        for (const name of Object.keys(value)) {
          if (!Object.prototype.hasOwnProperty.call(shape.members, name)) problems.push({ field: `${field}.${name}`, message: 'is not a known member' });
        }
      }
      return out;
    }
  }
}
