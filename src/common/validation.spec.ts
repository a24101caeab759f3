import { z } from 'zod';
import { InvalidRequest } from './errors/protocol-errors';
import { parseInput, unstorableMembers, unstorableText } from './validation';

describe('unstorableText', () => {
  it.each([
    ['a NUL', 'a\u0000b', /NUL/],
    ['a lone high surrogate', 'a\ud800b', /unpaired surrogate/],
    ['a lone low surrogate', '\udc00', /unpaired surrogate/],
    ['a high surrogate at the end', 'ok\ud83d', /unpaired surrogate/],
    ['two high surrogates', '\ud83d\ud83d\ude00', /unpaired surrogate/],
  ])('refuses %s', (_, s, message) => {
    expect(unstorableText(s)).toMatch(message);
  });

  it.each([
    ['plain text', 'plain text'],
    ['an emoji (a surrogate pair)', 'ok \ud83d\ude00'],
    ['tabs and line breaks', 'tab\tand\nnewline'],
    ['U+FFFD', '\ufffd'],
    ['the empty string', ''],
  ])('accepts %s', (_, s) => {
    expect(unstorableText(s)).toBeUndefined();
  });
});

describe('unstorableMembers', () => {
  it('names every unstorable string, key and number by its path, in document order', () => {
    const value = { a: { 'x\u0000y': 1, b: ['ok', '\ud800', 1e309, { c: '\udc00x' }] }, d: -Infinity, z: '\ud83d\ude00' };
    expect(unstorableMembers(value, ['tool_call', 'arguments'])).toEqual([
      { field: 'tool_call.arguments.a.x\\u0000y', message: "the member's name must not contain a NUL character (U+0000)" },
      { field: 'tool_call.arguments.a.b.1', message: expect.stringMatching(/unpaired surrogate/) },
      { field: 'tool_call.arguments.a.b.2', message: expect.stringMatching(/finite/) },
      { field: 'tool_call.arguments.a.b.3.c', message: expect.stringMatching(/unpaired surrogate/) },
      { field: 'tool_call.arguments.d', message: expect.stringMatching(/finite/) },
    ]);
  });

  it('finds nothing in a storable value', () => {
    expect(unstorableMembers({ a: [1, 2.5, -0, 'x', null, true, { b: 'ü\ud83d\ude00' }] })).toEqual([]);
  });

  it('walks a value nested 100,000 levels deep without overflowing the stack, in linear time', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const started = Date.now();
    const [problem] = unstorableMembers(deep);
    expect(problem.field).toBe(Array(100_000).fill('a').join('.'));
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('parseInput', () => {
  const schema = z.strictObject({ note: z.string(), free: z.record(z.string(), z.unknown()).default({}) });

  it('refuses what the schema accepts but Postgres cannot store, naming the member', () => {
    expect(() => parseInput(schema, { note: 'ok', free: { n: 1e309 } })).toThrow(InvalidRequest);
    try {
      parseInput(schema, { note: 'a\u0000', free: { 'k\ud800': 1 } });
    } catch (e) {
      expect((e as InvalidRequest).body()).toMatchObject({
        error: 'invalid_request',
        field: 'note',
        errors: [{ field: 'note' }, { field: 'free.k\\ud800' }],
      });
    }
    expect.assertions(2);
  });

  it('reports the schema problems first', () => {
    expect(() => parseInput(schema, { note: 5, free: { n: 1e309 } })).toThrow('note:');
  });
});

describe('parseInput names what is wrong with a member', () => {
  const problemsOf = (schema: z.ZodType, input: unknown) => {
    try {
      parseInput(schema, input);
    } catch (e) {
      return (e as InvalidRequest).extra.errors;
    }
    throw new Error('accepted');
  };

  it('null is said as null', () => {
    expect(problemsOf(z.strictObject({ name: z.string() }), { name: null })).toEqual([{ field: 'name', message: 'must be a string, not null' }]);
  });
});
