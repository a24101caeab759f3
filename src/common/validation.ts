import { z } from 'zod';
import { FieldProblem, InvalidRequest } from './errors/protocol-errors';

/**
 * Parses untrusted input with a zod schema. Every problem is reported with the dotted path of
 * its field; the first one names the error. `codeForField` lets a caller give CIBA's specific
 * codes (e.g. invalid_binding_message) to the fields that have one.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  codeForField: (field: string) => string | undefined = () => undefined,
): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems: FieldProblem[] = result.error.issues.flatMap((issue) =>
    // An unknown field is named itself, not its parent object.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: [...issue.path, key].map(String).join('.'), message: 'is not a known field' }))
      : [{ field: issue.path.length ? issue.path.map(String).join('.') : 'body', message: describe(issue) }],
  );
  throw InvalidRequest.forFields(problems, codeForField(problems[0].field));
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  return issue.message;
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
