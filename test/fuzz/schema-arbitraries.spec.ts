import { mutate, toJson } from './schema-arbitraries';

/**
 * The fuzzer's own mutations must never throw: one that did ended a 100,000-input run at its
 * 59,740th input (a member named "constructor" added to an array made the next copy's
 * Array.prototype.slice look up a species constructor that was a string).
 */
describe('fuzzer mutations', () => {
  const body = { tool_call: { arguments: { items: ['a', 'b'] } } };

  it('adds a member to an array as an element, whatever its name, and later mutations of it still work', () => {
    // Place 4 is items[0]: its parent is the array.
    const added = mutate(body, 4, 'add', 'hostile', 'constructor') as typeof body;
    expect(added.tool_call.arguments.items).toEqual(['a', 'b', 'hostile']);
    expect(Object.keys(added.tool_call.arguments.items)).toEqual(['0', '1', '2']);
    for (let pick = 0; pick < 8; pick++) {
      for (const kind of ['replace', 'drop', 'add', 'wrap'] as const) {
        expect(() => toJson(mutate(added, pick, kind, 'x', 'length'))).not.toThrow();
      }
    }
  });

  it('copies and walks an array that carries a named member (as a hostile value may) without asking for its species', () => {
    const array = Object.defineProperty(['a'], 'constructor', { value: 'constructor', enumerable: true });
    const value = { list: array };
    for (let pick = 0; pick < 3; pick++) expect(() => mutate(value, pick, 'drop', null, 'x')).not.toThrow();
  });

  it('leaves the value it was given as it was', () => {
    const before = JSON.stringify(body);
    mutate(body, 4, 'add', 'hostile', 'constructor');
    mutate(body, 2, 'drop', null, '');
    expect(JSON.stringify(body)).toBe(before);
  });
});
