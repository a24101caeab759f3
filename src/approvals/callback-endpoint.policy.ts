import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/**
 * SSRF guard for ping/push callbacks: only hosts on the configured allow-list, only https
 * (http when CALLBACK_ALLOW_HTTP is on, for local setups), no credentials in the URL.
 * Entries are "host", "host:port" or "*.domain" (any subdomain).
 */
@Injectable()
export class CallbackEndpointPolicy {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Returns why the endpoint is refused, or undefined when it may be called. */
  problemWith(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'must be an absolute URL';
    }
    const allowedSchemes = this.config.CALLBACK_ALLOW_HTTP ? ['https:', 'http:'] : ['https:'];
    if (!allowedSchemes.includes(url.protocol)) return `must use ${allowedSchemes.map((s) => s.slice(0, -1)).join(' or ')}`;
    if (url.username || url.password) return 'must not contain credentials';
    if (url.hash) return 'must not contain a fragment';
    const host = url.hostname.toLowerCase();
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const allowed = this.config.CALLBACK_ALLOWED_HOSTS.some((entry) => matches(entry, host, port));
    return allowed ? undefined : `host "${url.host}" is not in CALLBACK_ALLOWED_HOSTS`;
  }
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
