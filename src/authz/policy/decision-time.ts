/**
 * The decision time as the policies see it (`context.time`), and which clock it comes from.
 * Plain TypeScript, no Nest: the time a call is judged at is a pure function of the service's
 * clock, the time the gateway says it observed the call, the allowed skew and the tenant's zone.
 *
 * Which clock: the gateway's `observed_at` when it is within the skew of the service's own clock
 * (a call observed at 04:29:59 is judged at 04:29:59 even if it reaches us a second later), else
 * the service's clock. A far-off `observed_at` is not denied: the service's clock is the
 * authority either way, a gateway can move the decision time by at most the skew, and denying
 * would make every decision hinge on the gateway's NTP. The fallback is audited (`clock`).
 */

/** Weekdays are numbered as in cron and JavaScript: 0 = Sunday … 6 = Saturday, so Mon–Fri is 1..5. */
export type WallClock = {
  /** The IANA zone the fields are in ("UTC" for `context.time.utc`). */
  zone: string;
  /** Calendar date in that zone, "YYYY-MM-DD". */
  date: string;
  hour: number;
  minute: number;
  /** hour * 60 + minute: a window to the minute is one comparison ("02:00–04:30" is 120 ≤ m < 270). */
  minute_of_day: number;
  weekday: number;
};

/** Cedar's JSON form of an extension value: `datetime("…")`. */
export type CedarDatetime = {
  __extn: { fn: 'datetime'; arg: string };
};

/** `context.time`. */
export type TimeFacts = {
  /** The decision instant, for date comparisons (`context.time.now < datetime("2026-12-24")`). */
  now: CedarDatetime;
  epoch_seconds: number;
  utc: WallClock;
  tenant: WallClock;
};

/** What the audit records about the clock of a decision. */
export interface DecisionClock {
  /** The instant the call is judged at (ISO 8601, UTC). */
  decided_at: string;
  /** The service's own clock when it judged the call. */
  service_time: string;
  /** As the gateway sent it, when it did. */
  observed_at?: string;
  /** Which clock the decision used. */
  source: 'observed' | 'service';
  /** observed_at − service_time, in milliseconds (negative: the gateway saw the call earlier). */
  skew_ms?: number;
  /** Present when observed_at was sent but not used: it lay outside the allowed skew. */
  note?: 'observed_at_outside_skew';
}

/** Chooses the decision instant: the gateway's observation when within `skewSeconds` of `serviceNow`. */
export function decisionClock(serviceNow: Date, observedAt: string | undefined, skewSeconds: number): { at: Date; clock: DecisionClock } {
  const service_time = serviceNow.toISOString();
  if (observedAt === undefined) return { at: serviceNow, clock: { decided_at: service_time, service_time, source: 'service' } };
  const observed = Date.parse(observedAt);
  const skew_ms = observed - serviceNow.getTime();
  if (Number.isFinite(observed) && Math.abs(skew_ms) <= skewSeconds * 1000) {
    const at = new Date(observed);
    return { at, clock: { decided_at: at.toISOString(), service_time, observed_at: observedAt, source: 'observed', skew_ms } };
  }
  return {
    at: serviceNow,
    clock: {
      decided_at: service_time,
      service_time,
      observed_at: observedAt,
      source: 'service',
      ...(Number.isFinite(skew_ms) ? { skew_ms } : {}),
      note: 'observed_at_outside_skew',
    },
  };
}

/** `context.time` for the instant `at`, with the tenant's wall clock in `tenantZone`. */
export function timeFacts(at: Date, tenantZone: string): TimeFacts {
  const utc = wallClock(at, 'UTC');
  return {
    // Whole milliseconds in UTC: what Cedar's datetime() parses.
    now: { __extn: { fn: 'datetime', arg: at.toISOString() } },
    epoch_seconds: Math.floor(at.getTime() / 1000),
    utc,
    tenant: tenantZone === 'UTC' ? { ...utc } : wallClock(at, tenantZone),
  };
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
// Building a formatter costs far more than using one (tens of µs): one per zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock in `zone` at `at` (hour 0–23, weekday 0 = Sunday). */
export function wallClock(at: Date, zone: string): WallClock {
  if (zone === 'UTC') {
    const hour = at.getUTCHours();
    const minute = at.getUTCMinutes();
    return { zone, date: at.toISOString().slice(0, 10), hour, minute, minute_of_day: hour * 60 + minute, weekday: at.getUTCDay() };
  }
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(at)) parts[p.type] = p.value;
  const hour = Number(parts.hour);
  const minute = Number(parts.minute);
  return {
    zone,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour,
    minute,
    minute_of_day: hour * 60 + minute,
    weekday: WEEKDAYS[parts.weekday],
  };
}

/** The tenant's zone: its own entry in `zones`, else the default. */
export function tenantTimeZone(tenantId: string, zones: Record<string, string>, fallback: string): string {
  return Object.hasOwn(zones, tenantId) ? zones[tenantId] : fallback;
}
