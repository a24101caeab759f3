import { toCedarDecimal } from './cedar-decimal';
import { cedarTypeOf, convertInput, shapeOf, uncheckedMembers } from './input-shape';

/** inputSchema documents as MCP servers publish them in tools/list. */
const TRANSFER_FUNDS = {
  type: 'object',
  properties: {
    amount: { type: 'number', exclusiveMinimum: 0, description: 'Amount in the currency' },
    currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
    to: {
      type: 'object',
      properties: { iban: { type: 'string', pattern: '^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$' }, name: { type: 'string' } },
      required: ['iban'],
    },
    reference: { type: 'string', maxLength: 140 },
    tags: { type: 'array', items: { type: 'string' } },
    metadata: { type: 'object', additionalProperties: { type: 'string' } },
  },
  required: ['amount', 'currency', 'to'],
  additionalProperties: false,
  $schema: 'http://json-schema.org/draft-07/schema#',
};

/** The GitHub MCP server's create_issue (abridged). */
const CREATE_ISSUE = {
  type: 'object',
  properties: {
    owner: { type: 'string', description: 'Repository owner' },
    repo: { type: 'string' },
    title: { type: 'string' },
    body: { type: 'string' },
    assignees: { type: 'array', items: { type: 'string' } },
    labels: { type: 'array', items: { type: 'string' } },
    milestone: { type: 'number' },
  },
  required: ['owner', 'repo', 'title'],
};

/** What pydantic (FastMCP) writes for `Optional[int] = None` and a nested model list. */
const SEND_EMAIL = {
  type: 'object',
  properties: {
    to: { type: 'array', items: { type: 'string', format: 'email' }, minItems: 1 },
    subject: { type: 'string' },
    priority: { anyOf: [{ type: 'integer' }, { type: 'null' }], default: null },
    attachments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          filename: { type: 'string' },
          classification: { type: 'string', enum: ['public', 'internal', 'confidential'] },
          size: { type: 'integer', minimum: 0 },
        },
        required: ['filename', 'classification'],
      },
    },
    body: { oneOf: [{ type: 'string' }, { type: 'object', properties: { html: { type: 'string' } } }] },
  },
  required: ['to', 'subject'],
};

describe('deriving the Cedar type of context.input from a tool inputSchema', () => {
  it('types numbers as decimal, enums of strings as String, nested objects as records, and leaves maps out', () => {
    expect(cedarTypeOf(shapeOf(TRANSFER_FUNDS))).toEqual({
      type: 'Record',
      attributes: {
        amount: { type: 'Extension', name: 'decimal', required: true },
        currency: { type: 'String', required: true },
        to: { type: 'Record', required: true, attributes: { iban: { type: 'String', required: true }, name: { type: 'String', required: false } } },
        reference: { type: 'String', required: false },
        tags: { type: 'Set', element: { type: 'String' }, required: false },
      },
    });
    expect(uncheckedMembers(shapeOf(TRANSFER_FUNDS))).toEqual([{ member: 'input.metadata', why: 'an object without `properties` (a map)' }]);
  });

  it('types arrays as sets and members not in required as optional', () => {
    const t = cedarTypeOf(shapeOf(CREATE_ISSUE)) as { attributes: Record<string, unknown> };
    expect(t.attributes.owner).toEqual({ type: 'String', required: true });
    expect(t.attributes.assignees).toEqual({ type: 'Set', element: { type: 'String' }, required: false });
    expect(t.attributes.milestone).toEqual({ type: 'Extension', name: 'decimal', required: false });
  });

  it('reads a nullable member as optional, types a set of records, and leaves a real union out', () => {
    const shape = shapeOf(SEND_EMAIL);
    const t = cedarTypeOf(shape) as { attributes: Record<string, unknown> };
    expect(t.attributes.priority).toEqual({ type: 'Long', required: false });
    expect(t.attributes.attachments).toEqual({
      type: 'Set',
      required: false,
      element: {
        type: 'Record',
        attributes: {
          filename: { type: 'String', required: true },
          classification: { type: 'String', required: true },
          size: { type: 'Long', required: false },
        },
      },
    });
    expect(t.attributes.body).toBeUndefined();
    expect(uncheckedMembers(shape)).toEqual([{ member: 'input.body', why: 'uses oneOf' }]);
  });

  it.each([
    ['an enum of mixed types', { enum: ['a', 1] }],
    ['a $ref', { $ref: '#/$defs/x' }],
    ['several types', { type: ['string', 'integer'] }],
    ['an array without items', { type: 'array' }],
    ['a tuple', { type: 'array', items: { type: 'string' }, prefixItems: [{ type: 'string' }] }],
    ['type null', { type: 'null' }],
  ])('leaves %s out of the Cedar type', (_, schema) => {
    expect(cedarTypeOf(shapeOf({ type: 'object', properties: { x: schema } }))).toEqual({ type: 'Record', attributes: {} });
  });

  it('leaves members Cedar reserves (__extn, __entity) out', () => {
    expect(cedarTypeOf(shapeOf({ type: 'object', properties: { __extn: { type: 'string' }, ok: { type: 'string' } } }))).toEqual({
      type: 'Record',
      attributes: { ok: { type: 'String', required: false } },
    });
  });
});

describe('checking and converting a call arguments', () => {
  const transfer = shapeOf(TRANSFER_FUNDS);
  const ok = { amount: 1500.5, currency: 'EUR', to: { iban: 'DE89370400440532013000' }, metadata: { a: 'b' } };

  it('converts numbers to decimal escapes and drops members left out of the type', () => {
    expect(convertInput(transfer, ok, 'action.arguments')).toEqual({
      value: { amount: { __extn: { fn: 'decimal', arg: '1500.5000' } }, currency: 'EUR', to: { iban: 'DE89370400440532013000' } },
    });
  });

  it.each([
    ['a missing required member', { ...ok, amount: undefined }, 'action.arguments.amount', 'is required'],
    ['a string where a number is expected', { ...ok, amount: '1500' }, 'action.arguments.amount', 'must be a number, not string'],
    ['a number decimal cannot hold', { ...ok, amount: 0.12345 }, 'action.arguments.amount', 'must have at most 4 decimal places'],
    ['a number out of decimal range', { ...ok, amount: 1e16 }, 'action.arguments.amount', 'must have at most 4 decimal places'],
    ['a value outside the enum', { ...ok, currency: 'JPY' }, 'action.arguments.currency', 'must be one of "EUR", "USD", "GBP"'],
    ['a bound', { ...ok, amount: 0 }, 'action.arguments.amount', 'must be more than 0'],
    ['a nested pattern', { ...ok, to: { iban: 'nope' } }, 'action.arguments.to.iban', 'must match'],
    ['an unknown member when additionalProperties is false', { ...ok, memo: 'x' }, 'action.arguments.memo', 'is not a known member'],
    ['a set item of the wrong type', { ...ok, tags: ['a', 3] }, 'action.arguments.tags[1]', 'must be a string, not number'],
  ])('refuses %s, naming the member', (_, args, field, message) => {
    const result = convertInput(transfer, args, 'action.arguments');
    expect(result).toEqual({ problems: [expect.objectContaining({ field })] });
    expect((result as { problems: { message: string }[] }).problems[0].message).toContain(message);
  });

  it('takes null for a nullable member as absent', () => {
    expect(convertInput(shapeOf(SEND_EMAIL), { to: ['a@b.c'], subject: 's', priority: null }, 'a')).toEqual({ value: { to: ['a@b.c'], subject: 's' } });
  });

  it('refuses an integer beyond what a JSON number holds exactly', () => {
    const shape = shapeOf({ type: 'object', properties: { n: { type: 'integer' } } });
    expect(convertInput(shape, { n: 2 ** 60 }, 'a')).toEqual({ problems: [{ field: 'a.n', message: expect.stringMatching(/^must be an integer from/) }] });
    expect(convertInput(shape, { n: 1.5 }, 'a')).toEqual({ problems: [{ field: 'a.n', message: 'must be an integer' }] });
  });
});

describe('numbers as Cedar decimals', () => {
  it.each([
    [0, '0.0000'],
    [-0, '0.0000'],
    [12.34, '12.3400'],
    [-0.5, '-0.5000'],
    [1000, '1000.0000'],
    [0.0001, '0.0001'],
    [922337203685477, '922337203685477.0000'],
    [-922337203685477, '-922337203685477.0000'],
  ])('writes %p as decimal("%s")', (n, arg) => {
    expect(toCedarDecimal(n)).toBe(arg);
  });

  it.each([[0.00001], [1e-7], [0.1 + 0.2], [1e15], [-1e15], [1e21], [Number.NaN], [Number.POSITIVE_INFINITY]])('refuses %p', (n) => {
    expect(toCedarDecimal(n)).toBeUndefined();
  });
});
