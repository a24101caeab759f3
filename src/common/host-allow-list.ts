import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * Host allow-lists (SSRF guards for outbound calls): entries are "host", "host:port",
 * "*.domain" (any subdomain, not the domain itself), an IP address ("10.0.0.7", "[::1]", with
 * or without a port) or an IP range ("10.1.0.0/16", "[fd00::/8]").
 *
 * A name on the list is not enough: what it resolves to is checked too (`addressProblem`), and an
 * address in a private, loopback, link-local, metadata or otherwise non-public range is refused
 * unless the list names that address or a range holding it. So "127.0.0.1" on the list lets a
 * local setup call itself, while "hooks.example.com" resolving to 10.0.0.5 is refused.
 */
export interface AllowListOptions {
  /** An entry without a port allows only the scheme's default port (push services), not any port. */
  portlessMeansDefaultPort?: boolean;
}

export function allowListed(entries: string[], url: URL, options: AllowListOptions = {}): boolean {
  const host = bare(url.hostname.toLowerCase());
  const port = url.port || defaultPort(url);
  return entries.some((entry) => matches(entry, host, port, options));
}

/** An address that passed the check: the only one the caller may connect to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Why a connection to these resolved addresses of `url` is refused, or undefined. Every address is
 * checked, not only the first: a name that answers with one public and one internal address is
 * refused (the client could pick either).
 */
export function addressProblem(entries: string[], url: URL, addresses: ResolvedAddress[]): string | undefined {
  if (!addresses.length) return `host "${url.hostname}" resolves to no address`;
  const port = url.port || defaultPort(url);
  for (const { address } of addresses) {
    if (isInternal(address) && !addressAllowed(entries, address, port)) {
      return `host "${url.hostname}" resolves to ${address}, a private, loopback, link-local or reserved address that the allow-list does not name`;
    }
  }
  return undefined;
}

const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments (includes some metadata services)
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const) {
  internal.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64: embeds an IPv4 address
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // old site-local
  ['ff00::', 8], // multicast
] as const) {
  internal.addSubnet(net, prefix, 'ipv6');
}

/** True for an address outside the public internet (IPv4-mapped IPv6 addresses judged as their IPv4 address). */
export function isInternal(address: string): boolean {
  const a = normalise(address);
  const family = isIP(a);
  if (!family) return true;
  return internal.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

function addressAllowed(entries: string[], address: string, port: string): boolean {
  const a = normalise(address);
  return entries.some((entry) => {
    const [pattern, entryPort] = splitHostPort(entry);
    if (entryPort && entryPort !== port) return false;
    const p = bare(pattern);
    if (isIP(p)) return normalise(p) === a;
    return inRange(p, a);
  });
}

function matches(entry: string, host: string, port: string, options: AllowListOptions): boolean {
  const [pattern, entryPort] = splitHostPort(entry);
  if (entryPort ? entryPort !== port : options.portlessMeansDefaultPort && port !== '443') return false;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  const p = bare(pattern);
  if (isIP(host) && p.includes('/')) return inRange(p, normalise(host));
  return host === p || (isIP(host) > 0 && isIP(p) > 0 && normalise(host) === normalise(p));
}

/** "10.1.0.0/16" or "fd00::/8" holds the address. */
function inRange(range: string, address: string): boolean {
  const [net, bits] = range.split('/');
  const prefix = Number(bits);
  const family = isIP(net);
  if (!family || !Number.isInteger(prefix) || family !== isIP(address)) return false;
  const list = new BlockList();
  try {
    list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
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

const bare = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);
const defaultPort = (url: URL) => (url.protocol === 'https:' ? '443' : '80');

/** Lower case; "::ffff:10.0.0.1" (and its hex form) as "10.0.0.1", so a mapped address cannot hide an internal one. */
function normalise(address: string): string {
  const a = bare(address).toLowerCase();
  const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(.+)$/.exec(a);
  if (mapped && isIP(a) === 6) {
    const tail = mapped[1];
    if (isIPv4(tail)) return tail;
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(tail);
    if (hex) {
      const hi = parseInt(hex[1], 16);
      const lo = parseInt(hex[2], 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
  }
  return a;
}
