import { Inject, Injectable } from '@nestjs/common';
import { allowListed } from '../common/host-allow-list';
import { AddressCheck, HostResolver } from '../common/host-resolver';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/**
 * SSRF guard for ping/push callbacks: only hosts on the configured allow-list, only https
 * (http when CALLBACK_ALLOW_HTTP is on, for local setups), no credentials in the URL.
 * Entries are "host", "host:port", "*.domain" (any subdomain), an IP address or an IP range.
 *
 * The name is checked when a request is parked (`problemWith`); before every attempt the name is
 * resolved and every address checked too (`check`), and the caller connects to the address that
 * was checked, never resolving the name again (DNS rebinding).
 */
@Injectable()
export class CallbackEndpointPolicy {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly resolver: HostResolver,
  ) {}

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

  /**
   * The name check, then the address check: the one address to connect to, or the refusal. A name
   * that does not resolve throws (a transient network error, retried like one).
   */
  async check(endpoint: string): Promise<AddressCheck> {
    const refusal = this.problemWith(endpoint);
    if (refusal) return { refusal };
    const checked = await this.resolver.check(this.config.CALLBACK_ALLOWED_HOSTS, new URL(endpoint));
    return checked.refusal !== undefined ? { refusal: `${checked.refusal} (CALLBACK_ALLOWED_HOSTS)` } : checked;
  }
}
