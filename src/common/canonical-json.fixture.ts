/**
 * fast-check arbitraries for JSON values that canonical encoders get wrong (tricky numbers, any
 * Unicode with the odd lone surrogate, keys in every order), shared by the canonical encoder's
 * property tests and the audit chain's. Test-only: nothing at run time imports it.
 */
import fc from 'fast-check';

// Numbers whose shortest form is easy to get wrong: exponents, -0, subnormals, the integer limits.
const trickyNumber = fc.constantFrom(1e21, 1e-7, 123e-20, -0, 0, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 53, 0.1 + 0.2, 1e300 * 10, NaN);
const number = fc.oneof(trickyNumber, fc.double(), fc.integer());
// Any Unicode, including astral characters, and now and then a lone surrogate (which JCS refuses).
export const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => `a${String.fromCharCode(c)}b`) },
);
// Keys in any order: unicode, digits (which objects list first), prefixes of one another.
const key = fc.oneof(text, fc.constantFrom('10', '2', '-1', 'a', 'aa', 'A', '\u00e9', '\ud83d\ude00', '', '__proto__x', 'toJSONx'));
export const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), number, text, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
})).value;

/** The same output, or the same error, as canonicalize. */
export function expectSameAsCanonicalize(actual: () => string, reference: () => string | undefined): void {
  let expected: string | undefined;
  try {
    expected = reference();
  } catch (e) {
    expect(actual).toThrow((e as Error).message);
    return;
  }
  expect(actual()).toBe(expected);
}
