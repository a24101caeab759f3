import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { agentStatement, INTENT_META_KEY, REASON_META_KEY } from './agent-statement';

describe('the agent statement (reason and intent) of a tools/call', () => {
  it('reads the reason and intent from _meta', () => {
    const meta = { progressToken: 1, [REASON_META_KEY]: 'Invoice INV-42 is due today', [INTENT_META_KEY]: { category: 'pay', text: 'pay invoice INV-42' } };
    expect(agentStatement(meta, {})).toEqual({ reason: 'Invoice INV-42 is due today', intent: { category: 'pay', text: 'pay invoice INV-42' } });
  });

  it('states nothing when neither _meta nor a reason argument says anything', () => {
    expect(agentStatement(undefined, { memo: 'x' })).toEqual({});
    expect(agentStatement({ progressToken: 'p' }, { memo: 'x' })).toEqual({});
  });

  it("falls back to the tool's reason_argument (a dotted path reaches into objects); _meta wins over it", () => {
    expect(agentStatement(undefined, { memo: 'INV-42 due today' }, 'memo')).toEqual({ reason: 'INV-42 due today' });
    expect(agentStatement({}, { payment: { memo: 'INV-7' } }, 'payment.memo')).toEqual({ reason: 'INV-7' });
    expect(agentStatement({}, { ref: 4711 }, 'ref')).toEqual({ reason: '4711' });
    expect(agentStatement({ [REASON_META_KEY]: 'the stated one' }, { memo: 'the memo' }, 'memo')).toEqual({ reason: 'the stated one' });
  });

  it.each([
    ['missing', {}],
    ['blank', { memo: '   ' }],
    ['an object', { memo: { text: 'x' } }],
    ['a list', { memo: ['x'] }],
    ['null', { memo: null }],
  ])('a reason argument that is %s states no reason (the policy decides what that means)', (_what, args) => {
    expect(agentStatement(undefined, args, 'memo')).toEqual({});
  });

  const problem = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(McpError);
      expect((e as McpError).code).toBe(-32602); // InvalidParams
      return (e as McpError).message;
    }
    throw new Error('no error');
  };

  it.each([
    ['a number', { [REASON_META_KEY]: 42 }, `_meta["${REASON_META_KEY}"] must be a string, not number`],
    ['null', { [REASON_META_KEY]: null }, `_meta["${REASON_META_KEY}"] must be a string, not null`],
    ['empty', { [REASON_META_KEY]: '' }, `_meta["${REASON_META_KEY}"] must not be empty`],
    ['blank', { [REASON_META_KEY]: '  \n ' }, `_meta["${REASON_META_KEY}"] must not be blank`],
    ['too long', { [REASON_META_KEY]: 'x'.repeat(2001) }, `_meta["${REASON_META_KEY}"] must be at most 2000 characters`],
    ['with a bidi override', { [REASON_META_KEY]: 'pay \u202e24 ot' }, `_meta["${REASON_META_KEY}"] must not contain control characters`],
    ['an intent that is a string', { [INTENT_META_KEY]: 'pay' }, `_meta["${INTENT_META_KEY}"] must be an object, not string`],
    ['an empty intent', { [INTENT_META_KEY]: {} }, `_meta["${INTENT_META_KEY}"] must give category or text`],
    ['an unknown intent category', { [INTENT_META_KEY]: { category: 'steal' } }, `_meta["${INTENT_META_KEY}"].category`],
    ['an intent text that is a number', { [INTENT_META_KEY]: { text: 7 } }, `_meta["${INTENT_META_KEY}"].text must be a string, not number`],
    ['an unknown intent member', { [INTENT_META_KEY]: { category: 'pay', urgency: 'high' } }, `_meta["${INTENT_META_KEY}"].urgency is not a known field`],
  ])('a _meta value that is %s is an InvalidParams error naming it', (_what, meta, message) => {
    expect(problem(() => agentStatement(meta, {}))).toContain(message);
  });

  it('a reason argument Countersign would refuse is an error naming the argument', () => {
    expect(problem(() => agentStatement(undefined, { memo: 'x'.repeat(2001) }, 'memo'))).toContain(
      'argument "memo" (the tool\'s reason_argument) must be at most 2000 characters',
    );
    expect(problem(() => agentStatement(undefined, { memo: 'a\u0007b' }, 'memo'))).toContain('must not contain control characters');
  });
});
