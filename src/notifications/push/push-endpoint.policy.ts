import { Inject, Injectable } from '@nestjs/common';
import { allowListed } from '../../common/host-allow-list';
import { AddressCheck, HostResolver } from '../../common/host-resolver';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

/**
 * SSRF guard for web push: a subscription's endpoint is a URL we will POST to, so it is held to
 * PUSH_SERVICE_HOSTS: "host" (port 443 only), "host:port", "*.domain" (port 443 only), an IP
 * address or range.
 *
 * The name is checked when an approver subscribes (`problemWith`); before every send the name is
 * resolved and every address checked too (`check`), and the push connects to the address that was
 * checked, never resolving the name again (DNS rebinding).
 */
@Injectable()
export class PushEndpointPolicy {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly resolver: HostResolver,
  ) {}

  /** Why the endpoint is refused, or undefined. */
  problemWith(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'must be an absolute URL';
    }
    if (url.protocol !== 'https:') return 'must be an https URL';
    if (url.username || url.password) return 'must not contain credentials';
    // Push services listen on 443: an entry without a port does not open every port of its host.
    return allowListed(this.config.PUSH_SERVICE_HOSTS, url, { portlessMeansDefaultPort: true })
      ? undefined
      : `host "${url.host}" is not a known push service (PUSH_SERVICE_HOSTS)`;
  }

  /**
   * The name check, then the address check: the one address to connect to, or the refusal. A name
   * that does not resolve throws (a transient network error, retried like one).
   */
  async check(endpoint: string): Promise<AddressCheck> {
    const refusal = this.problemWith(endpoint);
    if (refusal) return { refusal };
    const checked = await this.resolver.check(this.config.PUSH_SERVICE_HOSTS, new URL(endpoint));
    return checked.refusal !== undefined ? { refusal: `${checked.refusal} (PUSH_SERVICE_HOSTS)` } : checked;
  }
}
