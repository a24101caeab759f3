import { parseRateLimit } from '../../config/rate-limit-setting';
import { countsLocally, currentWindow, retryAfterSeconds } from './rate-limit';

describe('parseRateLimit', () => {
  it.each([
    ['5000/1s', { max: 5000, windowMs: 1000 }],
    ['5000/s', { max: 5000, windowMs: 1000 }],
    ['120/1m', { max: 120, windowMs: 60_000 }],
    ['10/500ms', { max: 10, windowMs: 500 }],
    [' 3/2H ', { max: 3, windowMs: 7_200_000 }],
  ])('reads %p as a max per window', (text, limit) => {
    expect(parseRateLimit(text)).toEqual(limit);
  });

  it.each(['off', 'OFF', '0'])('reads %p as no limit', (text) => {
    expect(parseRateLimit(text)).toBeNull();
  });

  it.each(['', '5000', '0/1s', '-1/1s', '1.5/1s', '10/1d', '10/0s', '10/2h30m', 'ten/1s', '1/25h'])('refuses %p', (text) => {
    expect(parseRateLimit(text)).toBeUndefined();
  });
});

describe('currentWindow', () => {
  it('puts instants of one window under one index and says how long it has left', () => {
    expect(currentWindow(10_000, 1000)).toEqual({ index: 10, msLeft: 1000 });
    expect(currentWindow(10_999, 1000)).toEqual({ index: 10, msLeft: 1 });
    expect(currentWindow(11_000, 1000)).toEqual({ index: 11, msLeft: 1000 });
  });

  it('rounds Retry-After up to whole seconds and never says 0', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

describe('countsLocally', () => {
  it('counts locally only after the shared count was read recently, and only within half the budget', () => {
    expect(countsLocally(null, 0, 0, 100)).toBe(false);
    expect(countsLocally(1, 0, 0, 100)).toBe(true);
    expect(countsLocally(40, 100, 9, 100)).toBe(true);
    expect(countsLocally(40, 0, 10, 100)).toBe(false);
    expect(countsLocally(1, 101, 0, 100)).toBe(false);
    expect(countsLocally(1, 0, 0, 3)).toBe(false);
  });
});
