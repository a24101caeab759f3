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
