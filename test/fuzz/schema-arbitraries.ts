import fc from 'fast-check';

/**
 * fast-check arbitraries built from the OpenAPI document's JSON schemas: values the schema
 * accepts (as far as a generator can tell: patterns, formats and bounds are honoured), and the
 * hostile values a fuzzer puts in their place.
 */

export type Schema = Record<string, any>;
export type Components = Record<string, Schema>;

/** A JSON text written into the body verbatim: what JSON.stringify cannot produce (1e309, -0 as written, 1e-400). */
export class RawJson {
  constructor(readonly text: string) {}
}

const MAX_ITEMS = 4;

function resolve(components: Components, schema: Schema): Schema {
  let s = schema;
  for (let i = 0; s?.$ref && i < 10; i++) s = components[String(s.$ref).replace('#/components/schemas/', '')];
  return s ?? {};
}

/** A small JSON value of any type: tool arguments, free-form properties. */
export const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3, depthSize: 'small' });

/** A value the schema accepts, where the generator can know it. */
export function validValue(components: Components, schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(components, schema);
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map((a: Schema) => validValue(components, a, depth + 1)));
  const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (type.length > 1) return fc.oneof(...type.map((t: string) => validValue(components, { ...s, type: t }, depth + 1)));
  if (depth > 6) return fc.constant(null);
  switch (type[0]) {
    case 'string':
      return stringFor(s);
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1000, max: Math.min(s.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const min = s.minItems ?? 0;
      const item = s.items ? validValue(components, s.items, depth + 1) : jsonValue;
      return fc.array(item, { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? MAX_ITEMS, MAX_ITEMS)) });
    }
    case 'object':
    default: {
      const properties: Record<string, Schema> = s.properties ?? {};
      if (!Object.keys(properties).length) {
        if (type[0] !== 'object' && !s.additionalProperties) return jsonValue;
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), jsonValue, { maxKeys: 4 });
      }
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, p] of Object.entries(properties)) record[name] = validValue(components, p, depth + 1);
      return fc.record(record, { requiredKeys: (s.required ?? []).filter((k: string) => k in properties) });
    }
  }
}

function stringFor(s: Schema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.max(min, Math.min(s.maxLength ?? 40, 64));
  if (s.format === 'email') return fc.emailAddress();
  if (s.format === 'uri') return fc.webUrl();
  if (typeof s.pattern === 'string') {
    try {
      const re = new RegExp(s.pattern);
      return fc.stringMatching(re).filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
    } catch {
      /* a pattern JS cannot read: any string */
    }
  }
  return fc.string({
    minLength: min,
    maxLength: max,
    unit: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.:/ ') },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }) },
    ),
  });
}

/**
 * Nested `depth` levels of arrays or objects: what a recursive parser or validator chokes on.
 * As raw JSON text, so that the fuzzer's own JSON.stringify never recurses that deep.
 */
export function nested(depth: number, kind: 'array' | 'object'): RawJson {
  return new RawJson(kind === 'array' ? `${'['.repeat(depth)}"x"${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`);
}

/**
 * The values Postgres refuses to store (a NUL, a lone surrogate) and JSON numbers that overflow to
 * Infinity: the class of 500s known from issue 14. Their presence in an input is how a 5xx is
 * recognised as that known class (see knownClass in the harness).
 */
export const KNOWN_CLASS_STRINGS = ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udbff'];
export const OVERFLOW_NUMBERS = ['1e309', '-1e309', '1E400', '123e99999'];

/** Strings chosen to break something: encodings, lengths, injection, path tricks, number-like text. */
const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\t\n\r',
    ...KNOWN_CLASS_STRINGS,
    '\u2028\u2029',
    '\u202e\u0631evil',
    '\uffff\ufffe',
    '\u{1f600}\u{1f4a9}',
    '\u0301\u0301\u0301',
    "' OR '1'='1' --",
    '"; DROP TABLE approval_requests; --',
    '../../../../etc/passwd',
    '..',
    '%00',
    '%',
    '%zz',
    '${jndi:ldap://x}',
    '{{7*7}}',
    '<script>alert(1)</script>',
    '__proto__',
    'constructor',
    'NaN',
    'Infinity',
    '-0',
    '1e309',
    '9007199254740993',
    '0x10',
    'true',
    'null',
    '2026-13-45T25:61:61Z',
    'user:',
    'group:',
    'user:bob',
    'group:finance',
    '*',
    'javascript:alert(1)',
    'http://169.254.169.254/latest/meta-data/',
    'file:///etc/passwd',
  ),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.string({ maxLength: 20, unit: 'grapheme-composite' }),
);

/** Strings past every length limit. */
const hugeString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(256, 513, 2001, 4097, 16385, 70000).map((n) => 'a'.repeat(n)),
  fc.constantFrom(1000, 100_000).map((n) => 'é'.repeat(n)),
);

/** What goes into a path segment or a query parameter: hostile, seldom huge (a URL has its own limit). */
export const hostileText: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: hostileString },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: jsonValue },
);

/** A value that is wrong: a wrong type, out of bounds, huge, deep, or hostile. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: hostileString },
  { weight: 1, arbitrary: hugeString },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      -0.0001,
      2 ** 31,
      2 ** 53 + 2,
      1e308,
      -1e308,
      5e-324,
      [],
      {},
      [null],
      [''],
      { '': '' },
      { __proto__: { polluted: true } },
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { constructor: { prototype: { polluted: true } } },
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...OVERFLOW_NUMBERS, '-0', '1e-400', '0.1e1', '123456789012345678901234567890').map((t) => new RawJson(t)) },
  { weight: 1, arbitrary: fc.constantFrom(64, 1000, 5000).chain((d) => fc.constantFrom(nested(d, 'array'), nested(d, 'object'))) },
  { weight: 1, arbitrary: fc.constantFrom(201, 1001, 20_000).map((n) => new RawJson(JSON.stringify(Array.from({ length: n }, (_, i) => `item-${i}`)))) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(500, 5000).map((n) => new RawJson(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))))),
  },
  { weight: 1, arbitrary: hostileString.map((k) => ({ [k]: 'v' })) },
  { weight: 2, arbitrary: jsonValue },
);

/** JSON text with RawJson pieces written verbatim. */
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0001RAW${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return '';
  return raws.length ? text.replace(/"\\u0001RAW(\d+)\\u0001"/g, (_m, i) => raws[Number(i)]) : text;
}

type PathStep = string | number;

/** Every place in a JSON tree, root first. */
function places(value: unknown, path: PathStep[] = [], out: PathStep[][] = [], depth = 0): PathStep[][] {
  out.push(path);
  if (depth > 8 || out.length > 200) return out;
  if (Array.isArray(value)) for (let i = 0; i < Math.min(value.length, 10); i++) places(value[i], [...path, i], out, depth + 1);
  else if (value && typeof value === 'object' && !(value instanceof RawJson)) {
    for (const [k, v] of Object.entries(value)) places(v, [...path, k], out, depth + 1);
  }
  return out;
}

/** A deep copy that keeps RawJson pieces (structuredClone would turn them into plain objects) and "__proto__" members. */
function clone<T>(v: T): T {
  if (v instanceof RawJson || !v || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Array.from({ length: v.length }, (_, i) => clone(v[i])) as T;
  const copy = {};
  for (const [k, x] of Object.entries(v)) put(copy, k, clone(x));
  return copy as T;
}

/** parent[key] = value as an own member, even when key is "__proto__" (which would otherwise set the prototype). */
function put(parent: any, key: PathStep, value: unknown): void {
  Object.defineProperty(parent, key, { value, writable: true, enumerable: true, configurable: true });
}

function update(root: unknown, path: PathStep[], fn: (parent: any, key: PathStep) => void): unknown {
  if (!path.length) return root;
  const copy = clone(root);
  let parent: any = copy;
  for (const step of path.slice(0, -1)) parent = parent[step];
  fn(parent, path[path.length - 1]);
  return copy;
}

export type MutationKind = 'replace' | 'drop' | 'add' | 'wrap' | 'root';

/**
 * One change to a JSON tree at the place `pick` chooses. An added member of an array is a new
 * element: a named member ("constructor", "length") on an array is not JSON, and one named
 * "constructor" made the copy's array methods throw (the species lookup), ending a run.
 */
export function mutate(value: unknown, pick: number, kind: MutationKind, hostile: unknown, name: string): unknown {
  const all = places(value);
  const path = all[pick % all.length];
  if (kind === 'root' || !path.length) return kind === 'root' ? hostile : value;
  const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RawJson);
  switch (kind) {
    case 'replace':
      return update(value, path, (parent, key) => put(parent, key, hostile));
    case 'drop':
      return update(value, path, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key]));
    case 'wrap':
      return update(value, path, (parent, key) => put(parent, key, [parent[key]]));
    case 'add':
    default:
      return update(value, path, (parent, key) => {
        const target = parent[key];
        if (isObject(target)) put(target, name || 'extra', hostile);
        else if (Array.isArray(parent)) parent.push(hostile);
        else put(parent, name || 'extra', hostile);
      });
  }
}

/** One change to a JSON tree: replace a member with a hostile value, drop it, add one, or change the container's type. */
export const mutation: fc.Arbitrary<(value: unknown) => unknown> = fc
  .tuple(fc.nat(), fc.constantFrom<MutationKind>('replace', 'replace', 'replace', 'drop', 'add', 'wrap', 'root'), hostileValue, hostileString)
  .map(
    ([pick, kind, hostile, name]) =>
      (value: unknown) =>
        mutate(value, pick, kind, hostile, name),
  );
