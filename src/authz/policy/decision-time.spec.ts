import { isTimeZone } from '../../config/time-zone';
import { decisionClock, tenantTimeZone, timeFacts, wallClock } from './decision-time';

const at = (iso: string) => new Date(iso);

describe('the wall clock of a decision', () => {
  it('gives the UTC hour, minute, minute of day, date and weekday (0 = Sunday)', () => {
    expect(wallClock(at('2026-12-06T02:05:00Z'), 'UTC')).toEqual({
      zone: 'UTC',
      date: '2026-12-06',
      hour: 2,
      minute: 5,
      minute_of_day: 125,
      weekday: 0,
    });
    expect(wallClock(at('2026-12-05T23:59:59.999Z'), 'UTC')).toMatchObject({ hour: 23, minute: 59, minute_of_day: 1439, weekday: 6 });
  });

  it('turns the minute exactly at the boundary, not a millisecond before', () => {
    expect(wallClock(at('2026-12-07T04:29:59.999Z'), 'UTC')).toMatchObject({ hour: 4, minute: 29, minute_of_day: 269 });
    expect(wallClock(at('2026-12-07T04:30:00.000Z'), 'UTC')).toMatchObject({ hour: 4, minute: 30, minute_of_day: 270 });
  });

  it('in the tenant zone, the local date and weekday can differ from UTC', () => {
    // Monday 01:30 UTC is still Sunday evening in New York (EST, UTC-5).
    expect(wallClock(at('2026-12-07T01:30:00Z'), 'America/New_York')).toEqual({
      zone: 'America/New_York',
      date: '2026-12-06',
      hour: 20,
      minute: 30,
      minute_of_day: 1230,
      weekday: 0,
    });
    // …and already Monday morning in Tokyo (UTC+9, no DST).
    expect(wallClock(at('2026-12-06T23:30:00Z'), 'Asia/Tokyo')).toMatchObject({ date: '2026-12-07', hour: 8, minute: 30, weekday: 1 });
  });

  it('follows daylight saving time: Berlin is UTC+1 in winter and UTC+2 in summer', () => {
    expect(wallClock(at('2026-01-15T12:00:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 13, minute: 0 });
    expect(wallClock(at('2026-07-15T12:00:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 14, minute: 0 });
  });

  it('skips the hour that spring-forward removes and repeats the one fall-back adds', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    expect(wallClock(at('2026-03-29T00:59:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 1, minute: 59 });
    expect(wallClock(at('2026-03-29T01:00:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 3, minute: 0 });
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC, so 02:30 happens twice.
    expect(wallClock(at('2026-10-25T00:30:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 2, minute: 30 });
    expect(wallClock(at('2026-10-25T01:30:00Z'), 'Europe/Berlin')).toMatchObject({ hour: 2, minute: 30 });
  });

  it('handles zones whose offset is not whole hours, and midnight as hour 0 (not 24)', () => {
    expect(wallClock(at('2026-12-04T18:30:00Z'), 'Asia/Kolkata')).toMatchObject({ date: '2026-12-05', hour: 0, minute: 0, minute_of_day: 0, weekday: 6 });
    expect(wallClock(at('2026-12-04T00:00:00Z'), 'Asia/Kathmandu')).toMatchObject({ hour: 5, minute: 45 });
  });
});

describe('context.time', () => {
  it('carries the instant as a Cedar datetime, epoch seconds, and both wall clocks', () => {
    const facts = timeFacts(at('2026-12-07T03:10:20.500Z'), 'Europe/Berlin');
    expect(facts).toEqual({
      now: { __extn: { fn: 'datetime', arg: '2026-12-07T03:10:20.500Z' } },
      epoch_seconds: 1796613020,
      utc: { zone: 'UTC', date: '2026-12-07', hour: 3, minute: 10, minute_of_day: 190, weekday: 1 },
      tenant: { zone: 'Europe/Berlin', date: '2026-12-07', hour: 4, minute: 10, minute_of_day: 250, weekday: 1 },
    });
  });

  it('for a UTC tenant, the tenant clock is the UTC clock', () => {
    const facts = timeFacts(at('2026-12-07T03:10:00Z'), 'UTC');
    expect(facts.tenant).toEqual(facts.utc);
  });
});

describe('which clock decides', () => {
  const service = at('2026-12-07T04:30:10Z');

  it('without observed_at, the service clock', () => {
    expect(decisionClock(service, undefined, 30)).toEqual({
      at: service,
      clock: { decided_at: '2026-12-07T04:30:10.000Z', service_time: '2026-12-07T04:30:10.000Z', source: 'service' },
    });
  });

  it('the gateway observation when it is within the skew, either side, the bound included', () => {
    const early = decisionClock(service, '2026-12-07T04:29:40Z', 30);
    expect(early.at.toISOString()).toBe('2026-12-07T04:29:40.000Z');
    expect(early.clock).toMatchObject({ source: 'observed', skew_ms: -30_000, observed_at: '2026-12-07T04:29:40Z', decided_at: '2026-12-07T04:29:40.000Z' });
    const late = decisionClock(service, '2026-12-07T05:30:39+01:00', 30);
    expect(late.at.toISOString()).toBe('2026-12-07T04:30:39.000Z');
    expect(late.clock).toMatchObject({ source: 'observed', skew_ms: 29_000 });
  });

  it('the service clock, with a note, when the observation is further off than the skew', () => {
    for (const observed of ['2026-12-07T04:29:39.999Z', '2026-12-07T04:30:40.001Z', '2026-12-06T04:30:10Z']) {
      const r = decisionClock(service, observed, 30);
      expect(r.at).toBe(service);
      expect(r.clock).toMatchObject({ source: 'service', decided_at: '2026-12-07T04:30:10.000Z', observed_at: observed, note: 'observed_at_outside_skew' });
    }
  });

  it('with a skew of 0, only an observation to the millisecond is used', () => {
    expect(decisionClock(service, '2026-12-07T04:30:10.000Z', 0).clock.source).toBe('observed');
    expect(decisionClock(service, '2026-12-07T04:30:10.001Z', 0).clock.source).toBe('service');
  });
});

describe('time zones', () => {
  it('knows IANA zones and refuses made-up ones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });

  it("a tenant's own zone wins over the default, and an inherited name is not a tenant", () => {
    const zones = { acme: 'Europe/Berlin' };
    expect(tenantTimeZone('acme', zones, 'UTC')).toBe('Europe/Berlin');
    expect(tenantTimeZone('globex', zones, 'America/New_York')).toBe('America/New_York');
    expect(tenantTimeZone('constructor', zones, 'UTC')).toBe('UTC');
  });
});
