/**
 * Standing approvals, the pure part: what a policy offers (from the approval obligation's
 * `@standing…` annotations), what an approver may choose within it, and whether a later call
 * falls under what was granted. Plain TypeScript, no Nest: the policy engine, the decide use case,
 * the authorization engine and the page share it.
 */
import { canonicalJson } from '../../common/canonical-json';
import { FieldProblem, InvalidRequest } from '../../common/errors/protocol-errors';

import { maxSecondsOf, StandingChoice, StandingOffer, StandingTerms } from '../../vocabulary/standing-offer';

// The offer's vocabulary lives in src/vocabulary (the policy engine reads it too).
export * from '../../vocabulary/standing-offer';

/** A standing scope the policy does not offer for this call: refused, naming standing.scope. */
export class StandingNotOffered extends InvalidRequest {
  override readonly code = 'standing_not_offered';
}

/**
 * The terms an approver's choice gives, checked against what the policy offered for this call:
 * a scope it does not offer, a session scope on a call without a session, a duration or a number of
 * uses beyond its caps are refused naming the field. The policy's pins are always kept.
 */
export function chooseTerms(offer: StandingOffer | null, choice: StandingChoice, call: { mcpSessionId: string | null }): StandingTerms | null {
  if (choice.scope === 'call') return null;
  const problem = (field: string, message: string): never => {
    throw InvalidRequest.forFields([{ field, message }] satisfies FieldProblem[]);
  };
  if (!offer || !offer.scopes.includes(choice.scope)) {
    const offered = offer?.scopes.length ? `only ${['call', ...offer.scopes].map((s) => `"${s}"`).join(', ')}` : 'only "call" (this call only)';
    throw new StandingNotOffered(`standing.scope: the policy does not allow a "${choice.scope}" standing approval for this call; it allows ${offered}`, {
      field: 'standing.scope',
      offered: ['call', ...(offer?.scopes ?? [])],
    });
  }
  if (choice.scope === 'session' && !call.mcpSessionId) {
    problem('standing.scope', 'cannot be "session": the call carried no correlation.mcp_session_id');
  }
  const maxSeconds = maxSecondsOf(offer);
  const expiresIn = choice.expires_in ?? maxSeconds;
  if (expiresIn > maxSeconds) problem('standing.expires_in', `must be at most ${maxSeconds} seconds (the policy's maximum)`);
  const maxUses = choice.max_uses ?? offer.max_uses ?? null;
  if (offer.max_uses !== undefined && maxUses! > offer.max_uses) problem('standing.max_uses', `must be at most ${offer.max_uses} (the policy's maximum)`);
  return { scope: choice.scope, expires_in: expiresIn, max_uses: maxUses, pin: [...new Set([...offer.pin, ...(choice.pin ?? [])])].sort() };
}

/**
 * Several approving votes (a quorum): one standing approval only if every one of them chose the
 * same scope; it then lasts as long as the shortest, allows as many uses as the fewest, and pins
 * every path any of them pinned. Otherwise none (the approval covers this call only).
 */
export function agreedTerms(votes: (StandingTerms | null)[]): StandingTerms | null {
  if (!votes.length || votes.some((v) => !v)) return null;
  const all = votes as StandingTerms[];
  if (all.some((v) => v.scope !== all[0].scope)) return null;
  const limited = all.map((v) => v.max_uses).filter((u): u is number => u !== null);
  return {
    scope: all[0].scope,
    expires_in: Math.min(...all.map((v) => v.expires_in)),
    max_uses: limited.length ? Math.min(...limited) : null,
    pin: [...new Set(all.flatMap((v) => v.pin))].sort(),
  };
}

const ABSENT = null;

/** The value at an argument path, or undefined when the path leads nowhere. */
export function valueAt(args: unknown, path: string): unknown {
  let at: unknown = args;
  for (const name of path.split('.')) {
    if (at === null || typeof at !== 'object' || !Object.prototype.hasOwnProperty.call(at, name)) return undefined;
    at = (at as Record<string, unknown>)[name];
  }
  return at;
}

/** The pinned arguments as stored: each path's value as canonical JSON, null where the call had none. */
export function pinnedValues(args: Record<string, unknown>, paths: string[]): Record<string, string | null> {
  return Object.fromEntries(
    paths.map((p) => {
      const v = valueAt(args, p);
      return [p, v === undefined ? ABSENT : canonicalJson(v)];
    }),
  );
}

/** Does a call's arguments hold exactly the pinned values (a path absent then must be absent now)? */
export function pinsMatch(pinned: Record<string, string | null>, args: Record<string, unknown>): boolean {
  return Object.entries(pinned).every(([path, expected]) => {
    const v = valueAt(args, path);
    return v === undefined ? expected === ABSENT : expected !== ABSENT && canonicalJson(v) === expected;
  });
}
