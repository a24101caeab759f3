import { Inject, Injectable } from '@nestjs/common';
import { allowListed } from '../common/host-allow-list';
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
    return allowListed(this.config.CALLBACK_ALLOWED_HOSTS, url) ? undefined : `host "${url.host}" is not in CALLBACK_ALLOWED_HOSTS`;
  }
}
