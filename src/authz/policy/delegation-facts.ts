/**
 * Each hop's delegation as policies read it. Cedar has no quantifier over a set of records, so the
 * chain travels twice: `context.delegation`, the delegation the current actor acts under, as a
 * typed record; and `context.delegation_chain`, the summaries over every hop that rules need (the
 * purposes stated, the shortest window, the soonest expiry, how many hops state no purpose or no
 * expiry), so that "every hop was granted for invoicing" is
 * `context.delegation_chain.without_purpose == 0 && context.delegation_chain.purposes == ["invoicing"]`.
 *
 * A window is `expires_at − (not_before, else granted_at)`: how long the grant lets the agent act.
 * Members with no value (no purpose, no expiry) are absent, so a policy asks with `has`. A chain
 * with no delegation in force (denied anyway by the built-in) shows an empty delegation granted
 * now for no tools, and zero hops. Plain TypeScript, no Nest.
 */
import type { CallFacts, DelegationFacts } from './cedar-schema';

const datetime = (iso: string) => ({ __extn: { fn: 'datetime', arg: iso } });
const seconds = (ms: number) => Math.floor(ms / 1000);

/** The hop's start: when the grant lets the agent begin. */
const startOf = (d: DelegationFacts) => Date.parse(d.not_before ?? d.granted_at);

export function windowSeconds(d: DelegationFacts): number | undefined {
  return d.expires_at ? seconds(Date.parse(d.expires_at) - startOf(d)) : undefined;
}

/** `context.delegation` and `context.delegation_chain`, judged at the decision time (`facts.time`). */
export function delegationContext(facts: CallFacts) {
  const hops = facts.delegations ?? [];
  const nowMs = facts.time.epoch_seconds * 1000;
  const now = new Date(nowMs).toISOString();
  const current: DelegationFacts = hops[hops.length - 1] ?? {
    id: '',
    purpose: null,
    granted_at: now,
    not_before: null,
    expires_at: null,
    tools: [],
    resources: [],
  };
  const window = windowSeconds(current);
  const expiring = hops.filter((d) => d.expires_at).sort((a, b) => Date.parse(a.expires_at!) - Date.parse(b.expires_at!));
  const windows = hops.map(windowSeconds).filter((w): w is number => w !== undefined);
  const soonest = expiring[0]?.expires_at;
  return {
    delegation: {
      id: current.id,
      ...(current.purpose ? { purpose: current.purpose } : {}),
      granted_at: datetime(current.granted_at),
      not_before: datetime(current.not_before ?? current.granted_at),
      ...(current.expires_at
        ? { expires_at: datetime(current.expires_at), window_seconds: window!, remaining_seconds: seconds(Date.parse(current.expires_at) - nowMs) }
        : {}),
      tools: [...new Set(current.tools)].sort(),
      ...(current.resources ? { resources: [...new Set(current.resources)].sort() } : {}),
    },
    delegation_chain: {
      hops: hops.length,
      purposes: [...new Set(hops.flatMap((d) => (d.purpose ? [d.purpose] : [])))].sort(),
      without_purpose: hops.filter((d) => !d.purpose).length,
      without_expiry: hops.length - expiring.length,
      ...(windows.length ? { shortest_window_seconds: Math.min(...windows) } : {}),
      ...(soonest ? { soonest_expires_at: datetime(soonest), soonest_remaining_seconds: seconds(Date.parse(soonest) - nowMs) } : {}),
    },
  };
}
