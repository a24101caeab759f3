/**
 * What a policy may offer for a standing approval (the approval obligation's `@standing…`
 * annotations) and what an approver may choose within it: shared by the policy engine (which
 * reads and checks the annotations) and approvals (which grants and matches standing approvals).
 */
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

const splitList = (s: string | undefined) => [
  ...new Set(
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  ),
];

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
