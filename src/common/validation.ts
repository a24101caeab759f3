import { z } from 'zod';
import { FieldProblem, InvalidRequest } from './errors/protocol-errors';

/**
 * Parses untrusted input with a zod schema. Every problem is reported with the dotted path of
 * its field; the first one names the error. `codeForField` lets a caller give CIBA's specific
 * codes (e.g. invalid_binding_message) to the fields that have one. What the schema accepts is then
 * checked to be storable (see `unstorableMembers`), so no schema can let through a value that
 * Postgres refuses (a 500, and a fuzzer's favourite).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, codeForField: (field: string) => string | undefined = () => undefined): z.output<S> {
  // reportInput: an issue carries the value it refused, so a wrong type is told apart from a missing member.
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) {
    // What passed the schema is what gets stored: it must be something Postgres can store.
    const unstorable = unstorableMembers(result.data);
    if (unstorable.length) throw InvalidRequest.forFields(unstorable, codeForField(unstorable[0].field));
    return result.data;
  }
  const problems: FieldProblem[] = result.error.issues.flatMap((issue) =>
    // An unknown field is named itself, not its parent object.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key].map(String).join('.'), message: 'is not a known field' }))
      : [{ field: issue.path.length ? issue.path.map(String).join('.') : 'body', message: describeIssue(issue) }],
  );
  throw InvalidRequest.forFields(problems, codeForField(problems[0].field));
}

/**
 * An issue in the API's words. A wrong type is said as such, even where a schema's own message is
 * written for the missing case; a repeated form or query parameter (an array where one value is
 * expected) is named as repeated. Needs the issue's input (`reportInput: true`).
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_type') return issue.message;
  if (issue.input === undefined) return 'is required';
  if (Array.isArray(issue.input) && issue.expected !== 'array') return `must be given once (a single ${issue.expected}), not repeated or a list`;
  return `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}, not ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'a list' : typeof issue.input}`;
}

// Printable text: no control characters, which hide or reorder content on an approver's screen: C0 except
// tab and line breaks, DEL, C1 (e.g. U+009B, a terminal's CSI) and the bidi overrides and isolates.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// A binding message is one short line shown on the approver's device: no tab or line break either.
export const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
export const text = (max: number, forbidden: RegExp = CONTROL) =>
  z
    .string()
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max} characters` })
    .refine((s) => !forbidden.test(s), { message: 'must not contain control characters' });
export const id = text(512);

/** ?after=&limit= of a keyset-paged admin list. */
export const keysetPageQuery = z.strictObject({
  after: z.string().max(200).optional(),
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(500).optional(),
});

/**
 * What Postgres cannot store, in text or jsonb: a NUL, and a UTF-16 surrogate without its pair
 * (not Unicode: jsonb refuses its escape, a text column would silently get U+FFFD instead).
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');
const MAX_REPORTED = 20;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableText(s: string): string | undefined {
  const found = UNSTORABLE.exec(s);
  if (!found) return undefined;
  return found[0] === '\u0000'
    ? 'must not contain a NUL character (U+0000)'
    : 'must not contain an unpaired surrogate (U+D800–U+DFFF): it is not valid Unicode';
}

/** A zod refinement for a string that is stored without `parseInput` (whose output is checked anyway). */
export const storable = (s: string) => unstorableText(s) === undefined;

/**
 * Every member of a parsed value that Postgres could not store, named by its dotted path: strings
 * and object keys with a NUL or an unpaired surrogate, and numbers that are not finite (JSON.parse
 * reads 1e309 as Infinity, which JSON.stringify would silently turn into null). Iterative, so that
 * deep nesting cannot overflow the stack; at most MAX_REPORTED problems.
 */
export function unstorableMembers(value: unknown, path: string[] = []): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // Paths are linked to their parent, not copied, so a deep value costs linear time.
  const root: Path | undefined = path.length ? { parent: undefined, key: path.join('.') } : undefined;
  // Children are pushed in reverse, so problems come out in document order.
  const stack: ({ value: unknown; at: Path | undefined } | FieldProblem)[] = [{ value, at: root }];
  while (stack.length && problems.length < MAX_REPORTED) {
    const item = stack.pop()!;
    if ('field' in item) {
      problems.push(item);
      continue;
    }
    const { value: v, at } = item;
    if (typeof v === 'string') {
      const message = unstorableText(v);
      if (message) problems.push({ field: fieldOf(at), message });
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) problems.push({ field: fieldOf(at), message: 'must be a finite number (this one overflows to infinity)' });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], at: { parent: at, key: String(i) } });
    } else if (v !== null && typeof v === 'object' && isPlainObject(v)) {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        const message = unstorableText(key);
        // A bad name is shown with its bad characters escaped, so that the error itself is printable and storable.
        if (message) stack.push({ field: fieldOf({ parent: at, key: escapeUnstorable(key) }), message: `the member's name ${message}` });
        else stack.push({ value: child, at: { parent: at, key } });
      }
    }
  }
  return problems;
}

interface Path {
  parent: Path | undefined;
  key: string;
}
function fieldOf(at: Path | undefined): string {
  const keys: string[] = [];
  for (let p = at; p; p = p.parent) keys.push(p.key);
  return keys.length ? keys.reverse().join('.') : 'body';
}

const isPlainObject = (v: object) => [Object.prototype, null].includes(Object.getPrototypeOf(v));
const escapeUnstorable = (s: string) => s.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
