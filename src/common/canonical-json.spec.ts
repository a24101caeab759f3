import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { ChainedContent, eventCanonical } from '../audit/audit-chain';
import { canonicalJson } from './canonical-json';

/** The record the chain hashed before the fast encoder, built as it was then: the reference. */
function referenceEventCanonical(e: ChainedContent, seq: string, prev: string): string | undefined {
  return canonicalize({
    v: 1,
    seq,
    prev,
    id: e.id,
    tenant: e.tenant_id,
    type: e.type,
    approval_id: e.approval_id,
    actor: e.actor,
    agent_id: e.agent_id,
    delegator_id: e.delegator_id,
    mcp_session_id: e.mcp_session_id,
    a2a_interaction_id: e.a2a_interaction_id,
    request_id: e.request_id,
    data: e.data,
    occurred_us: e.occurred_us,
  });
}

/** The same output, or the same error, as canonicalize. */
function expectSameAsCanonicalize(actual: () => string, reference: () => string | undefined): void {
  let expected: string | undefined;
  try {
    expected = reference();
  } catch (e) {
    expect(actual).toThrow((e as Error).message);
    return;
  }
  expect(actual()).toBe(expected);
}

// Numbers whose shortest form is easy to get wrong: exponents, -0, subnormals, the integer limits.
const trickyNumber = fc.constantFrom(1e21, 1e-7, 123e-20, -0, 0, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 53, 0.1 + 0.2, 1e300 * 10, NaN);
const number = fc.oneof(trickyNumber, fc.double(), fc.integer());
// Any Unicode, including astral characters, and now and then a lone surrogate (which JCS refuses).
const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => `a${String.fromCharCode(c)}b`) },
);
// Keys in any order: unicode, digits (which objects list first), prefixes of one another.
const key = fc.oneof(text, fc.constantFrom('10', '2', '-1', 'a', 'aa', 'A', '\u00e9', '\ud83d\ude00', '', '__proto__x', 'toJSONx'));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), number, text, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
})).value;

const nullableText = fc.option(text, { nil: null });
const row = fc.record({
  id: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String),
  tenant_id: text,
  type: text,
  approval_id: nullableText,
  actor: nullableText,
  agent_id: nullableText,
  delegator_id: nullableText,
  mcp_session_id: nullableText,
  a2a_interaction_id: nullableText,
  request_id: nullableText,
  data: json,
  occurred_us: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
});
const hash = fc.stringMatching(/^[0-9a-f]{64}$/);

const RUNS = { numRuns: 2000 };

describe('the fast canonical encoder writes exactly what canonicalize writes', () => {
  it('for any JSON value: unicode, tricky numbers, nested objects with unsorted keys', () => {
    fc.assert(
      fc.property(json, (v) => expectSameAsCanonicalize(() => canonicalJson(v), () => canonicalize(v))),
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
        expectSameAsCanonicalize(() => canonicalJson(parsed), () => canonicalize(parsed));
      }),
      RUNS,
    );
  });

  it('for any JavaScript value, through its general path (toJSON, Dates, boxed values, holes, null prototypes, NaN)', () => {
    const anything = fc.anything({ withBoxedValues: true, withDate: true, withNullPrototype: true, withSparseArray: true, withObjectString: true, withMap: true, withSet: true, stringUnit: 'binary' });
    fc.assert(
      fc.property(anything, (v) => expectSameAsCanonicalize(() => canonicalJson(v), () => canonicalize(v))),
      RUNS,
    );
  });

  it('for any event record, the chain hashes the same text as before', () => {
    fc.assert(
      fc.property(row, fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), hash, (e, seq, prev) =>
        expectSameAsCanonicalize(() => eventCanonical(e, String(seq), prev), () => referenceEventCanonical(e, String(seq), prev)),
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
