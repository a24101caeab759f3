import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json';
import { expectSameAsCanonicalize, json } from './canonical-json.fixture';

const RUNS = { numRuns: 2000 };

describe('the fast canonical encoder writes exactly what canonicalize writes', () => {
  it('for any JSON value: unicode, tricky numbers, nested objects with unsorted keys', () => {
    fc.assert(
      fc.property(json, (v) =>
        expectSameAsCanonicalize(
          () => canonicalJson(v),
          () => canonicalize(v),
        ),
      ),
      RUNS,
    );
  });

  it('for what JSON.parse makes of any JSON text (as the pg driver reads jsonb)', () => {
    fc.assert(
      fc.property(json, (v) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(JSON.stringify(v));
        } catch {
          return;
        }
        expectSameAsCanonicalize(
          () => canonicalJson(parsed),
          () => canonicalize(parsed),
        );
      }),
      RUNS,
    );
  });

  it('for any JavaScript value, through its general path (toJSON, Dates, boxed values, holes, null prototypes, NaN)', () => {
    const anything = fc.anything({
      withBoxedValues: true,
      withDate: true,
      withNullPrototype: true,
      withSparseArray: true,
      withObjectString: true,
      withMap: true,
      withSet: true,
      stringUnit: 'binary',
    });
    fc.assert(
      fc.property(anything, (v) =>
        expectSameAsCanonicalize(
          () => canonicalJson(v),
          () => canonicalize(v),
        ),
      ),
      RUNS,
    );
  });

  it.each([
    ['1e21 and -0', { b: 1e21, a: -0, c: [1e-7, 1.5] }, '{"a":0,"b":1e+21,"c":[1e-7,1.5]}'],
    ['keys by UTF-16 code unit, not by code point', { '\ud83d\ude00': 1, '\uffff': 2, '\u00e9': 3 }, '{"\u00e9":3,"\ud83d\ude00":1,"\uffff":2}'],
    ['control characters and quotes escaped as JSON.stringify does', { s: '\u0001"\\\n\u2028' }, '{"s":"\\u0001\\"\\\\\\n\u2028"}'],
    ['integer-like keys sorted as strings', { 10: 'x', 2: 'y', a: { z: null, y: [] } }, '{"10":"x","2":"y","a":{"y":[],"z":null}}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalize(value)).toBe(expected);
  });

  it('refuses what canonicalize refuses: lone surrogates, NaN, Infinity, cycles', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { back: cyclic };
    expect(() => canonicalJson({ s: 'a\ud800' })).toThrow('Lone surrogate is not allowed');
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow('Lone surrogate is not allowed');
    expect(() => canonicalJson([NaN])).toThrow('NaN is not allowed');
    expect(() => canonicalJson({ n: -Infinity })).toThrow('Infinity is not allowed');
    expect(() => canonicalJson(cyclic)).toThrow('Circular reference detected');
  });

  it('nests deeper than its own recursion goes, as canonicalize does', () => {
    let deep: unknown = { leaf: 'é' };
    for (let i = 0; i < 5000; i++) deep = i % 2 ? [deep] : { k: deep };
    expect(canonicalJson(deep)).toBe(canonicalize(deep));
  });
});
