import { Injectable } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressProblem, ResolvedAddress } from './host-allow-list';

/** The host may be called, at exactly this address; or why not. */
export type AddressCheck = { address: ResolvedAddress; refusal?: undefined } | { refusal: string; address?: undefined };

/**
 * DNS for outbound calls to URLs that others chose (callbacks, client JWKS, push services): one
 * place that resolves a name and checks every answer against an allow-list's address rules
 * (`addressProblem`), so that each caller connects to the address that was checked and never
 * resolves the name again (DNS rebinding).
 */
@Injectable()
export class HostResolver {
  /**
   * The address to connect to for `url`: every address its host resolves to is checked against
   * `entries` (a private, loopback, link-local or reserved one only when the list names it).
   * Throws when the name does not resolve (a transient network error for the caller).
   */
  async check(entries: string[], url: URL): Promise<AddressCheck> {
    const addresses = await this.resolve(url.hostname);
    const problem = addressProblem(entries, url, addresses);
    return problem ? { refusal: problem } : { address: addresses[0] };
  }

  /** Every address the name resolves to (an IP literal is its own answer). Tests replace this to play DNS. */
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const family = isIP(host);
    if (family) return [{ address: host, family: family as 4 | 6 }];
    const answers = await lookup(host, { all: true });
    return answers.map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
  }
}
