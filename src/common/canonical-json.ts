import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalized');
  return text;
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
