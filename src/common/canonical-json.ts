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
  const canonical = canonicalJson({ server: call.server, tool: call.tool, arguments: call.arguments });
  return createHash('sha256').update(canonical).digest('base64url');
}
