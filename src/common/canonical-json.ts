/// <reference lib="es2024.string" />
/**
 * RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes. What call hashes
 * and the audit chain are computed over. Fast for values shaped as JSON.parse returns them (a
 * request body, jsonb from the pg driver); it must stay byte-identical to the `canonicalize`
 * package, which defines the encoding (see canonical-json.spec.ts). Anything it does not handle
 * itself (toJSON, boxed or non-plain objects, NaN, undefined in arrays, lone surrogates, very deep
 * nesting) goes to `canonicalize` whole.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** Deeper than this, `canonicalize` (iterative, cycle-safe) takes over from the recursion here. */
const MAX_DEPTH = 100;

/** Thrown inside the fast path when a value needs `canonicalize`'s general rules. */
const NEEDS_GENERAL = Symbol('needs canonicalize');

/** The canonical JSON text of `value`, as `canonicalize(value)` would write it. */
export function canonicalJson(value: unknown): string {
  try {
    return encode(value, 0);
  } catch (e) {
    if (e !== NEEDS_GENERAL) throw e;
    // As canonicalize: a value JSON has no text for at all (undefined, a function) gives undefined.
    return canonicalize(value)!;
  }
}

/** SHA-256 (base64url) of the canonical JSON of {server, tool, arguments}: what an approval is bound to. */
export function callHash(call: { server: string; tool: string; arguments: unknown }): string {
  return callHashOf(call.server, call.tool, canonicalJson(call.arguments));
}

/**
 * The same hash from arguments already canonicalised (a caller that also checks their size need
 * not do it twice). JCS sorts the keys (arguments, server, tool) and writes strings as JSON does.
 */
export function callHashOf(server: string, tool: string, canonicalArguments: string): string {
  const canonical = `{"arguments":${canonicalArguments},"server":${JSON.stringify(server)},"tool":${JSON.stringify(tool)}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * The canonical JSON of an object whose keys are known in advance, in JCS (UTF-16) order: the
 * chain's fixed-shape record. Key order is computed once, so no row pays for sorting.
 */
export function fixedShapeEncoder<A extends unknown[]>(fields: Record<string, (...args: A) => unknown>): (...args: A) => string {
  const keys = Object.keys(fields).sort();
  const readers = keys.map((k) => fields[k]);
  const prefixes = keys.map((k) => `${JSON.stringify(k)}:`);
  return (...args) => {
    const values = readers.map((read) => read(...args));
    try {
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const v = values[i];
        if (v === undefined) continue; // JCS, like JSON.stringify, leaves the member out
        out += (out.length > 1 ? ',' : '') + prefixes[i] + encode(v, 1);
      }
      return out + '}';
    } catch (e) {
      if (e !== NEEDS_GENERAL) throw e;
      return canonicalize(Object.fromEntries(keys.map((k, i) => [k, values[i]])))!;
    }
  };
}

function encode(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      // JSON.stringify writes numbers as ECMAScript's Number::toString, which JCS adopts (1e+21, -0 → 0).
      if (!Number.isFinite(value)) throw NEEDS_GENERAL;
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) throw NEEDS_GENERAL;
      if (Array.isArray(value)) return encodeArray(value, depth + 1);
      if (!isPlainObject(value)) throw NEEDS_GENERAL;
      return encodeObject(value as Record<string, unknown>, depth + 1);
    default:
      throw NEEDS_GENERAL;
  }
}

function encodeString(s: string): string {
  if (!s.isWellFormed()) throw NEEDS_GENERAL; // canonicalize refuses lone surrogates
  return JSON.stringify(s);
}

function encodeArray(items: unknown[], depth: number): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    out += encode(items[i], depth); // holes and undefined are read as undefined: general path
  }
  return out + ']';
}

function encodeObject(o: Record<string, unknown>, depth: number): string {
  // The default sort compares UTF-16 code units, which is the order JCS requires.
  const keys = Object.keys(o).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = o[keys[i]];
    if (v === undefined) continue;
    out += (out.length > 1 ? ',' : '') + encodeString(keys[i]) + ':' + encode(v, depth);
  }
  return out + '}';
}

/** What JSON.parse makes: no prototype but Object's (or none), and no toJSON to obey. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}
