/**
 * Standing approvals, the pure part: what a policy offers (from the approval obligation's
 * `@standing…` annotations), what an approver may choose within it, and whether a later call
 * falls under what was granted. Plain TypeScript, no Nest: the policy engine, the decide use case,
 * the authorization engine and the page share it.
 */
import { canonicalJson } from '../../common/canonical-json';
import { FieldProblem, InvalidRequest } from '../../common/errors/protocol-errors';

/** Scopes beyond "this call only": the rest of the MCP session, or a time window. */
export const STANDING_SCOPES = ['session', 'window'] as const;
export type StandingScope = (typeof STANDING_SCOPES)[number];
/** A session-scoped approval outlives no session longer than this when the policy sets no maximum. */
export const DEFAULT_SESSION_MAX_SECONDS = 24 * 3600;
/** An argument path: names joined by dots ("amount", "recipient.iban", "items.0.sku"). */
export const ARGUMENT_PATH = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,15}$/;

/** What the policy allows for one parked call; none when it allows only "this call". */
export interface StandingOffer {
  scopes: StandingScope[];
  /** The longest a standing approval may last (seconds); required for `window`. */
  max_seconds?: number;
  /** The most calls it may allow; none means the approver may leave it unlimited. */
  max_uses?: number;
  /** Argument paths every standing approval pins (the approver may add more, never fewer). */
  pin: string[];
}

/** What an approver chose when voting (the vote body's `standing`). */
export interface StandingChoice {
  scope: 'call' | StandingScope;
  expires_in?: number;
  max_uses?: number;
  pin?: string[];
}

/** What one approving vote grants, fixed at the vote. */
export interface StandingTerms {
  scope: StandingScope;
  expires_in: number;
  max_uses: number | null;
  pin: string[];
}

const splitList = (s: string | undefined) => [...new Set((s ?? '').split(',').map((x) => x.trim()).filter(Boolean))];

/** The offer one approval permit's annotations make, or undefined when it makes none. */
export function standingOfferOf(a: Record<string, string>): StandingOffer | undefined {
  if (!a.standing) return undefined;
  return {
    scopes: STANDING_SCOPES.filter((s) => splitList(a.standing).includes(s)),
    ...(a.standing_max_seconds ? { max_seconds: Number(a.standing_max_seconds) } : {}),
    ...(a.standing_max_uses ? { max_uses: Number(a.standing_max_uses) } : {}),
    pin: splitList(a.standing_pin).sort(),
  };
}

/** Why the `@standing…` annotations of a policy are wrong, if they are (checked at publish). */
export function standingAnnotationErrors(id: string, a: Record<string, string>): string[] {
  const errors: string[] = [];
  const named = ['standing', 'standing_max_seconds', 'standing_max_uses', 'standing_pin'].filter((k) => a[k] !== undefined);
  if (!named.length) return errors;
  if (a.obligation !== 'human_approval') errors.push(`${id}: @${named[0]} belongs on an @obligation("human_approval") permit`);
  if (!a.standing) {
    errors.push(`${id}: @${named[0]} needs @standing("session"), @standing("window") or @standing("session,window")`);
    return errors;
  }
  const scopes = splitList(a.standing);
  if (!scopes.length || scopes.some((s) => !(STANDING_SCOPES as readonly string[]).includes(s))) {
    errors.push(`${id}: @standing must list "session" and/or "window", comma-separated`);
  }
  if (a.standing_max_seconds !== undefined && !/^[1-9][0-9]{0,7}$/.test(a.standing_max_seconds)) {
    errors.push(`${id}: @standing_max_seconds must be a number of seconds`);
  }
  if (scopes.includes('window') && a.standing_max_seconds === undefined) errors.push(`${id}: @standing("window") needs @standing_max_seconds`);
  if (a.standing_max_uses !== undefined && !/^[1-9][0-9]{0,5}$/.test(a.standing_max_uses)) {
    errors.push(`${id}: @standing_max_uses must be a number from 1 to 999999`);
  }
  if (a.standing_pin !== undefined && !splitList(a.standing_pin).every((p) => ARGUMENT_PATH.test(p))) {
    errors.push(`${id}: @standing_pin must list argument paths ("amount", "recipient.iban"), comma-separated`);
  }
  return errors;
}

const minOf = (xs: (number | undefined)[]) => {
  const set = xs.filter((x): x is number => x !== undefined);
  return set.length ? Math.min(...set) : undefined;
};

/**
 * Several approval obligations on one call (conjunctive): a standing approval is offered only if
 * every one of them offers it, and then only the scopes all offer, the shortest duration, the
 * fewest uses and every pin any of them asks for.
 */
export function mergeStandingOffers(offers: (StandingOffer | undefined)[]): StandingOffer | undefined {
  if (!offers.length || offers.some((o) => !o)) return undefined;
  const all = offers as StandingOffer[];
  const scopes = STANDING_SCOPES.filter((s) => all.every((o) => o.scopes.includes(s)));
  if (!scopes.length) return undefined;
  const max_seconds = minOf(all.map((o) => o.max_seconds));
  const max_uses = minOf(all.map((o) => o.max_uses));
  return {
    scopes,
    ...(max_seconds !== undefined ? { max_seconds } : {}),
    ...(max_uses !== undefined ? { max_uses } : {}),
    pin: [...new Set(all.flatMap((o) => o.pin))].sort(),
  };
}

/** The longest a standing approval of this scope may last under the offer. */
export function maxSecondsOf(offer: StandingOffer): number {
  return offer.max_seconds ?? DEFAULT_SESSION_MAX_SECONDS;
}

/** A standing scope the policy does not offer for this call: refused, naming standing.scope. */
export class StandingNotOffered extends InvalidRequest {
  override readonly code = 'standing_not_offered';
}

/**
 * The terms an approver's choice gives, checked against what the policy offered for this call:
 * a scope it does not offer, a session scope on a call without a session, a duration or a number of
 * uses beyond its caps are refused naming the field. The policy's pins are always kept.
 */
export function chooseTerms(
  offer: StandingOffer | null,
  choice: StandingChoice,
  call: { mcpSessionId: string | null },
): StandingTerms | null {
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
  return Object.fromEntries(paths.map((p) => {
    const v = valueAt(args, p);
    return [p, v === undefined ? ABSENT : canonicalJson(v)];
  }));
}

/** Does a call's arguments hold exactly the pinned values (a path absent then must be absent now)? */
export function pinsMatch(pinned: Record<string, string | null>, args: Record<string, unknown>): boolean {
  return Object.entries(pinned).every(([path, expected]) => {
    const v = valueAt(args, path);
    return v === undefined ? expected === ABSENT : expected !== ABSENT && canonicalJson(v) === expected;
  });
}
