/**
 * Host allow-lists (SSRF guards for outbound calls): entries are "host", "host:port" or
 * "*.domain" (any subdomain, not the domain itself).
 */
export function allowListed(entries: string[], url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return entries.some((entry) => matches(entry, host, port));
}

function matches(entry: string, host: string, port: string): boolean {
  const [pattern, entryPort] = splitHostPort(entry);
  if (entryPort && entryPort !== port) return false;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

function splitHostPort(entry: string): [string, string | undefined] {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    const rest = entry.slice(end + 1);
    return [entry.slice(0, end + 1), rest.startsWith(':') ? rest.slice(1) : undefined];
  }
  const i = entry.lastIndexOf(':');
  return i > 0 && entry.indexOf(':') === i ? [entry.slice(0, i), entry.slice(i + 1)] : [entry, undefined];
}
