/**
 * The approval page's standing-approval choice: the scopes the policy offers for this call, the
 * arguments the approver may pin beyond the policy's, the shorter windows and the number of uses
 * they may choose, and exactly what the chosen terms let through, in words, before the approver
 * confirms. Pure. page.js mirrors `standingCovers` to keep the summary live as the approver chooses.
 */
import type { ApprovalRequest } from '../../approvals/approval-request.entity';
import { canonicalJson } from '../../common/canonical-json';
import { ARGUMENT_PATH, maxSecondsOf, StandingScope, valueAt } from '../../approvals/standing/standing-terms';

export interface StandingOption {
  value: 'call' | StandingScope;
  label: string;
}

/** An argument the approval may be pinned to: later calls must carry this same value. */
export interface PinnableArgument {
  path: string;
  /** `path = value` (the value as canonical JSON), or `no path` when the call has none: as the summary says it. */
  text: string;
  /** The policy pins it: always pinned, the approver cannot untick it. */
  policy: boolean;
}

export interface StandingChoiceModel {
  /** "This call only" first, then the scopes the policy offers. */
  options: StandingOption[];
  pins: PinnableArgument[];
  /** The policy's maximum (seconds) and the windows offered up to it, shortest first, the maximum last. */
  maxSeconds: number;
  durations: number[];
  /** The policy's cap on uses; null: the approver may leave it unlimited. */
  maxUses: number | null;
  /** What the approval is for: `calls by <agent> for <person> to <server>/<tool>[ on <resource>]`. */
  who: string;
  /** The MCP session a "session" approval is held to, when it is offered. */
  session: string | null;
}

/** The terms as the summary describes them. */
export interface CoveredTerms {
  scope: 'call' | StandingScope;
  /** The `text` of every pinned argument. */
  pins: string[];
  expiresIn: number;
  maxUses: number | null;
}

/** Shorter windows offered below the policy's maximum (the maximum itself is always offered). */
const DURATIONS = [5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 7 * 86400, 30 * 86400];
/** At most this many of the call's own arguments are offered for pinning (the policy's always are). */
const MAX_PINNABLE = 12;
/** A pinned value longer than this is shortened in the summary (the full arguments are under "Full details"). */
const MAX_VALUE_CHARS = 80;
const TOP_LEVEL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const shorten = (s: string) => (s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s);

/** How one pinned argument reads, from the call's arguments (canonical JSON, as it is matched). */
export function pinText(args: Record<string, unknown>, path: string): string {
  const v = valueAt(args, path);
  return v === undefined ? `no ${path}` : `${path} = ${shorten(canonicalJson(v))}`;
}

/** Whose calls to what a standing approval of this request is for. */
export function coveredCalls(r: ApprovalRequest): string {
  const resource = typeof r.resource.id === 'string' ? ` on ${r.resource.id}` : '';
  return `calls by ${r.agentId} for ${r.delegatorId} to ${r.toolCall.server}/${r.toolCall.tool}${resource}`;
}

/** The choice for this request; none when the policy offers only "this call". */
export function standingChoice(r: ApprovalRequest): StandingChoiceModel | undefined {
  const offer = r.standingOffer;
  if (!offer?.scopes.length) return undefined;
  const maxSeconds = maxSecondsOf(offer);
  const options: StandingOption[] = [{ value: 'call', label: 'This call only' }];
  if (offer.scopes.includes('session') && r.mcpSessionId) options.push({ value: 'session', label: 'This session' });
  if (offer.scopes.includes('window')) options.push({ value: 'window', label: 'For a time' });
  if (options.length < 2) return undefined;
  const args = r.toolCall.arguments ?? {};
  // The call's own top-level arguments, as they are: a name a path cannot express is not offered.
  const own = Object.keys(args)
    .filter((name) => TOP_LEVEL_NAME.test(name) && !offer.pin.includes(name))
    .slice(0, MAX_PINNABLE);
  const pins = [
    ...offer.pin.map((path) => ({ path, text: pinText(args, path), policy: true })),
    ...own.map((path) => ({ path, text: pinText(args, path), policy: false })),
  ].filter((p) => ARGUMENT_PATH.test(p.path));
  return {
    options,
    pins,
    maxSeconds,
    durations: [...DURATIONS.filter((d) => d < maxSeconds), maxSeconds],
    maxUses: offer.max_uses ?? null,
    who: coveredCalls(r),
    session: r.mcpSessionId,
  };
}

/** A window's length, every unit that is not zero: "15 min", "1 h", "1 h 30 min", "7 d". Mirrored by page.js. */
export function formatWindow(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'min'],
    [s % 60, 's'],
  ];
  return (
    parts
      .filter(([n]) => n > 0)
      .map(([n, unit]) => `${n} ${unit}`)
      .join(' ') || '0 s'
  );
}

/** Exactly what an approval with these terms lets through. Mirrored by page.js (standingCovers). */
export function standingCovers(c: Pick<StandingChoiceModel, 'who' | 'session'>, t: CoveredTerms): string {
  if (t.scope === 'call') return 'Only the call above; the agent asks again next time.';
  const args = t.pins.length ? `with ${t.pins.join(', ')} (other arguments may differ)` : 'with any arguments';
  const where = t.scope === 'session' ? `in MCP session ${c.session}, for up to` : 'in any session, for';
  const uses = t.maxUses === null ? ', any number of calls' : `, at most ${t.maxUses} ${t.maxUses === 1 ? 'call' : 'calls'}`;
  return `Later ${c.who} ${args}, ${where} ${formatWindow(t.expiresIn)}${uses}.`;
}

/** Said once a standing approval is granted (the page's summary leaves it out to keep the decision on a phone's first screen). */
export const STANDING_ENDS = 'It ends early if you revoke it or the delegation is revoked; forbidding policies still apply.';
