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
  const problems: FieldProblem[] = result.error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : 'body',
    message: describe(issue),
  }));
  throw InvalidRequest.forFields(problems, codeForField(problems[0].field));
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (issue.code === 'unrecognized_keys') return `has unknown field(s): ${issue.keys.join(', ')}`;
  return issue.message;
}
