import { z } from 'zod';
import { InvalidAuthorizationDetails, InvalidRequest, InvalidScope } from '../common/errors/protocol-errors';
import { CONTROL_OR_BREAK, describeIssue, id, parseInput, text, unstorableMembers } from '../common/validation';
import { envelopeParts, notificationToken } from '../approvals/park-approval.command';
import { ENVIRONMENTS, TRUST_LEVELS } from '../vocabulary/envelope';

/** The RFC 9396 type Countersign registers for "run this tool call": one parked call per request. */
export const TOOL_CALL_DETAIL_TYPE = 'tool_call';

/**
 * The form of a backchannel authentication request (CIBA Core §7.1). Unknown parameters are
 * ignored, as OAuth requires; the client authentication parameters are checked elsewhere.
 */
export const backchannelForm = z.object({
  scope: z.string({ message: 'is required' }),
  login_hint: text(512).optional(),
  login_hint_token: z.string().min(1).max(8192).optional(),
  id_token_hint: z.string().min(1).max(8192).optional(),
  binding_message: text(256, CONTROL_OR_BREAK).optional(),
  user_code: z.string().optional(),
  requested_expiry: z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/, { message: 'must be a positive whole number of seconds' })
    .transform(Number)
    .optional(),
  client_notification_token: notificationToken.optional(),
  authorization_details: z.string({ message: 'is required: a JSON array with one "tool_call" entry' }),
  request: z.string().optional(),
  acr_values: z.string().optional(),
});

/** The form of a token request (CIBA Core §10.1). */
export const tokenRequestForm = z.object({
  grant_type: z.string({ message: 'is required' }),
  auth_req_id: z.string({ message: 'is required' }),
});

/** RFC 9396 authorization_details entry of type "tool_call": the call, and the context an approver sees. */
const toolCallDetail = z.strictObject({
  type: z.literal(TOOL_CALL_DETAIL_TYPE, { message: `must be "${TOOL_CALL_DETAIL_TYPE}"` }),
  server: id,
  tool: id,
  arguments: envelopeParts.toolCall.shape.arguments,
  reason: envelopeParts.reason,
  intent: envelopeParts.intent.optional(),
  resource: envelopeParts.resource.optional(),
  environment: z.enum(ENVIRONMENTS).optional(),
  risk: envelopeParts.risk.optional(),
  agent: z.strictObject({ id: text(2048), class: id.optional(), trust_level: z.enum(TRUST_LEVELS).optional(), operator: id.optional() }).optional(),
  correlation: envelopeParts.correlation.optional(),
  // RFC 9396 §2.2's common fields, kept as given.
  locations: z.array(z.url()).max(20).optional(),
  actions: z.array(id).max(20).optional(),
  identifier: id.optional(),
});
export type ToolCallDetail = z.output<typeof toolCallDetail>;

/** Which of the three hints named the user, and what it said (exactly one is allowed). */
export type Hint = { kind: 'login_hint' | 'login_hint_token' | 'id_token_hint'; value: string };

export interface BackchannelRequest {
  scope: string;
  hint: Hint;
  bindingMessage?: string;
  requestedExpiry?: number;
  clientNotificationToken?: string;
  /** Exactly as the client sent it, for the tokens; `toolCall` is the same entry, validated. */
  authorizationDetails: Record<string, unknown>[];
  toolCall: ToolCallDetail;
}

/**
 * The form of an OAuth request: form-encoded (RFC 6749 §3.2, CIBA Core §7.1), each parameter
 * once (Fastify's form parser turns a repeated one into an array).
 */
export function oauthForm(contentType: string | undefined, form: unknown): Record<string, string> {
  const mediaType = contentType?.split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded' || !form || typeof form !== 'object') {
    throw new InvalidRequest('the request must be application/x-www-form-urlencoded');
  }
  for (const [name, value] of Object.entries(form)) {
    if (Array.isArray(value)) throw InvalidRequest.forFields([{ field: name, message: 'must not be given more than once' }]);
    if (typeof value !== 'string') throw new InvalidRequest('the request must be application/x-www-form-urlencoded');
  }
  return form as Record<string, string>;
}

/**
 * Validates a backchannel authentication request in CIBA Core §7.1's terms: each problem gets
 * the error code the spec gives it (invalid_scope, invalid_binding_message, …).
 */
export function parseBackchannelRequest(form: Record<string, string>, deliveryMode: 'poll' | 'ping' | 'push'): BackchannelRequest {
  const input = parseInput(backchannelForm, form, (field) => (field === 'binding_message' ? 'invalid_binding_message' : undefined));
  const scopes = input.scope.split(' ');
  if (!scopes.includes('openid')) throw new InvalidScope('scope must include "openid"');
  if (input.request !== undefined) throw InvalidRequest.forFields([{ field: 'request', message: 'signed request objects are not supported' }]);
  if (input.user_code !== undefined) {
    throw InvalidRequest.forFields([{ field: 'user_code', message: 'is not supported (backchannel_user_code_parameter_supported is false)' }]);
  }

  const hints = (['login_hint', 'login_hint_token', 'id_token_hint'] as const).filter((kind) => input[kind] !== undefined);
  if (hints.length !== 1) {
    throw new InvalidRequest(`exactly one of login_hint, login_hint_token and id_token_hint is required (got ${hints.length ? hints.join(', ') : 'none'})`);
  }
  if (deliveryMode !== 'poll' && input.client_notification_token === undefined) {
    throw InvalidRequest.forFields([{ field: 'client_notification_token', message: `is required for a ${deliveryMode} mode client` }]);
  }

  const { details, toolCall } = parseAuthorizationDetails(input.authorization_details);
  return {
    scope: scopes.filter(Boolean).join(' '),
    hint: { kind: hints[0], value: input[hints[0]]! },
    bindingMessage: input.binding_message,
    requestedExpiry: input.requested_expiry,
    clientNotificationToken: input.client_notification_token,
    authorizationDetails: details,
    toolCall,
  };
}

function parseAuthorizationDetails(raw: string): { details: Record<string, unknown>[]; toolCall: ToolCallDetail } {
  let details: unknown;
  try {
    details = JSON.parse(raw);
  } catch {
    throw invalidDetails('authorization_details', 'must be a JSON array');
  }
  if (!Array.isArray(details) || details.length !== 1 || !details[0] || typeof details[0] !== 'object') {
    throw invalidDetails('authorization_details', `must be a JSON array of exactly one "${TOOL_CALL_DETAIL_TYPE}" object (one parked call per request)`);
  }
  const result = toolCallDetail.safeParse(details[0], { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
    const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : describeIssue(issue);
    throw invalidDetails(['authorization_details[0]', ...path.map(String)].join('.'), message);
  }
  // The entry is stored as sent (for the tokens), so what was sent must be storable.
  const [unstorable] = unstorableMembers(details[0], ['authorization_details[0]']);
  if (unstorable) throw invalidDetails(unstorable.field, unstorable.message);
  return { details: details as Record<string, unknown>[], toolCall: result.data };
}

function invalidDetails(field: string, message: string): InvalidAuthorizationDetails {
  return new InvalidAuthorizationDetails(`${field}: ${message}`, { field, errors: [{ field, message }] });
}
