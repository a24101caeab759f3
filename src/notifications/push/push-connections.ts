import { Agent } from 'node:https';
import { createSecureContext, SecureContext } from 'node:tls';
import type { ResolvedAddress } from '../../common/host-allow-list';
import { pinnedLookup } from '../../common/pinned-request';

export interface PushConnectionLimits {
  /** Agents kept at once; past it the least recently used one is destroyed. */
  maxAgents: number;
  /** Connections per agent (one push service at one address). */
  maxSocketsPerAgent: number;
  /** An idle connection is closed after this long. */
  idleTimeoutMs: number;
}

const DEFAULT_LIMITS: PushConnectionLimits = { maxAgents: 64, maxSocketsPerAgent: 16, idleTimeoutMs: 30_000 };

/**
 * Kept-alive TLS connections to push services, so that a fan-out does not pay a handshake per
 * push. A pooled socket must not reach an address other than the one just checked (a name may
 * resolve elsewhere later), so there is one agent per push service and checked address, whose
 * connections all go to that address; a push whose check answers another address gets another
 * agent. The trust (PUSH_CA_FILE) is built once and shared by every connection.
 */
export class PushConnections {
  private readonly agents = new Map<string, Agent>();
  private readonly secureContext: SecureContext;
  private readonly limits: PushConnectionLimits;

  constructor(ca?: string, limits: Partial<PushConnectionLimits> = {}) {
    this.secureContext = createSecureContext(ca ? { ca } : {});
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** The agent whose connections go to `address` for `endpoint`'s host and port. */
  agentFor(endpoint: URL, address: ResolvedAddress): Agent {
    const key = `${endpoint.hostname}:${endpoint.port || 443} ${address.address}`;
    let agent = this.agents.get(key);
    if (agent) {
      // Most recently used last: eviction takes the front.
      this.agents.delete(key);
    } else {
      agent = new Agent({
        lookup: pinnedLookup(address),
        keepAlive: true,
        maxSockets: this.limits.maxSocketsPerAgent,
        maxFreeSockets: this.limits.maxSocketsPerAgent,
        // Node closes a free socket once it has been idle this long.
        timeout: this.limits.idleTimeoutMs,
        secureContext: this.secureContext,
      });
    }
    this.agents.set(key, agent);
    if (this.agents.size > this.limits.maxAgents) {
      const [oldestKey, oldest] = this.agents.entries().next().value as [string, Agent];
      this.agents.delete(oldestKey);
      oldest.destroy();
    }
    return agent;
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
