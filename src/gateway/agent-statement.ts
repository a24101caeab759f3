/**
 * What the agent says about a call beyond the call itself: its reason for access and its intent,
 * sent to Countersign as /v1/authorize's `reason` and `intent`. Policies may demand a reason
 * (`@reason_required`, `context.reason_given`) and compare the intent with what the tool does
 * (`intent_mismatch`); the reason is part of the approval request the approvers read.
 *
 * Where it comes from, first found wins:
 * - the tools/call's `_meta["io.countersign/reason"]` and `_meta["io.countersign/intent"]`: MCP
 *   reserves `_meta` for such out-of-band data, and the upstream never sees it;
 * - for the reason, the tool's configured `reason_argument` (e.g. a payment's `memo`): the
 *   argument is part of the call, so it is bound to the approval with the rest of the arguments.
 * A bad value is the agent's to fix: an InvalidParams MCP error naming it, before Countersign is asked.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { describeIssue, text } from '../common/validation';
import { INTENT_CATEGORIES } from './gateway-config';

export const REASON_META_KEY = 'io.countersign/reason';
export const INTENT_META_KEY = 'io.countersign/intent';
/** Countersign's limit on `reason` and `intent.text`. */
export const MAX_STATEMENT_CHARS = 2000;

export interface AgentStatement {
  reason?: string;
  intent?: { category?: (typeof INTENT_CATEGORIES)[number]; text?: string };
}

// The same rules Countersign applies (no control characters, at most 2000), so what the gateway
// accepts is never a 400 there; blank is not a reason.
const statedText = text(MAX_STATEMENT_CHARS).refine((s) => s.trim().length > 0, { message: 'must not be blank' });
const reasonSchema = statedText;
const intentSchema = z
  .strictObject({ category: z.enum(INTENT_CATEGORIES).optional(), text: statedText.optional() })
  .refine((i) => i.category !== undefined || i.text !== undefined, { message: 'must give category or text' });

/** The agent's statement about one call; throws an InvalidParams McpError naming what is wrong. */
export function agentStatement(meta: Record<string, unknown> | undefined, args: Record<string, unknown>, reasonArgument?: string): AgentStatement {
  const statement: AgentStatement = {};
  if (meta && Object.hasOwn(meta, REASON_META_KEY)) statement.reason = parse(reasonSchema, meta[REASON_META_KEY], `_meta["${REASON_META_KEY}"]`);
  if (meta && Object.hasOwn(meta, INTENT_META_KEY)) statement.intent = parse(intentSchema, meta[INTENT_META_KEY], `_meta["${INTENT_META_KEY}"]`);
  if (statement.reason === undefined && reasonArgument) statement.reason = reasonFromArgument(args, reasonArgument);
  return statement;
}

/**
 * The reason argument's value: a string (or number) at a dotted path of the arguments. Absent,
 * blank or not text, the call states no reason (a policy that needs one says so); text that
 * Countersign would refuse as a reason is an error naming the argument.
 */
function reasonFromArgument(args: Record<string, unknown>, path: string): string | undefined {
  let v: unknown = args;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v !== 'string' || !v.trim()) return undefined;
  return parse(reasonSchema, v, `argument "${path}" (the tool's reason_argument)`);
}

function parse<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const problem = issue.code === 'unrecognized_keys' ? 'is not a known field (give category and/or text)' : describeIssue(issue);
  throw new McpError(ErrorCode.InvalidParams, `${name}${at.map((p) => `.${String(p)}`).join('')} ${problem}`);
}
