/**
 * Short decorators for the OpenAPI document: request bodies and queries generated from the
 * same zod schemas that parseInput validates with, the error responses a route can really
 * return (all shaped as the `Error` component), and which credential it takes.
 */
import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiQuery, ApiResponse, ApiSecurity, DECORATORS, type SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { OPERATOR_SCOPE } from '../auth/auth.decorators';

export const ERROR_SCHEMA = 'Error';
export const GATEWAY_SCHEME = 'gateway';
export const APPROVER_LINK_SCHEME = 'approver_link';
export const APPROVER_BATCH_SCHEME = 'approver_batch_link';
export const CIBA_CLIENT_SCHEME = 'ciba_client';

/** What a request looks like before parsing (defaults optional, coercions as sent). */
export function jsonSchemaOf(schema: z.ZodType): SchemaObject {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json as SchemaObject;
}

/** Named request bodies, collected as the controllers load; openapi.ts puts them in components.schemas. */
const requestSchemas = new Map<string, z.ZodType>();
export function requestSchemaComponents(): Record<string, SchemaObject> {
  return Object.fromEntries([...requestSchemas].map(([name, schema]) => [name, jsonSchemaOf(schema)]));
}

/** A JSON body validated with `schema`, documented as the component `name`. */
export function ApiJsonBody(name: string, schema: z.ZodType, description?: string) {
  const known = requestSchemas.get(name);
  if (known && known !== schema) throw new Error(`OpenAPI: two different request schemas are named ${name}`);
  requestSchemas.set(name, schema);
  return applyDecorators(ApiBody({ required: true, description, schema: { $ref: `#/components/schemas/${name}` } }), ApiError(400));
}

/** An HTML form post validated with `schema`. */
export function ApiFormBody(schema: z.ZodType) {
  return applyDecorators(ApiConsumes('application/x-www-form-urlencoded'), ApiBody({ required: true, schema: jsonSchemaOf(schema) }));
}

/** One query parameter per field of a zod object schema, then the 400 its validation answers. */
export function ApiZodQuery(schema: z.ZodObject, descriptions: Record<string, string> = {}) {
  const json = jsonSchemaOf(schema);
  const required = new Set(json.required ?? []);
  const params = Object.entries(json.properties ?? {}).map(([name, property]) =>
    ApiQuery({ name, required: required.has(name), description: descriptions[name], schema: property }),
  );
  return applyDecorators(...params, ApiError(400));
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid_request: the body, query or a path parameter is not valid; `field` names the first problem, `errors` lists all',
  401: 'invalid_token: the credential is missing, malformed, expired or not trusted (with a WWW-Authenticate challenge)',
  403: 'insufficient_scope: the token lacks the scope this endpoint needs',
  404: 'not_found: no such resource for the caller',
  409: 'request_closed or already_voted: the approval request takes no more changes',
  429: 'rate_limited: the caller is over its rate limit (RATE_LIMIT_*); Retry-After says in how many seconds to retry',
};

/**
 * One error response, with the `Error` body; `description` says which codes, where the default
 * does not fit. Descriptions of one status add up (a body's 400 and a route's own 400); the same
 * one twice (a validated body and query) is said once.
 */
export function ApiError(status: number, description = ERROR_DESCRIPTIONS[status]): MethodDecorator & ClassDecorator {
  if (!description) throw new Error(`OpenAPI: no default description for ${status}; give one`);
  const decorate = ApiResponse({ status, description, schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } });
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const said: string | undefined = Reflect.getMetadata(DECORATORS.API_RESPONSE, descriptor?.value ?? target)?.[status]?.description;
    if (said?.split('\n\n').includes(description)) return descriptor ?? target;
    return decorate(target, key as string | symbol, descriptor as PropertyDescriptor);
  }) as MethodDecorator & ClassDecorator;
}

/** The usual error responses by status, e.g. `@ApiErrors(401, 404)`. */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(...statuses.map((status) => ApiError(status)));
}

/** Mirrors @GatewayAuth(scope): the gateway's bearer JWT (with the scope, if any), 401 and, with a scope, 403. */
export function ApiGatewayAuth(scope?: string) {
  return applyDecorators(
    ApiSecurity(GATEWAY_SCHEME, scope ? [scope] : []),
    ApiError(401),
    ApiError(429),
    ...(scope ? [ApiError(403, `insufficient_scope: the token lacks the "${scope}" scope`)] : []),
  );
}

/** Mirrors @OperatorAuth(): a gateway JWT with the countersign:operator scope whose subject is in OPERATOR_SUBJECTS. */
export function ApiOperatorAuth() {
  return applyDecorators(
    ApiSecurity(GATEWAY_SCHEME, [OPERATOR_SCOPE]),
    ApiError(401),
    ApiError(
      403,
      `insufficient_scope or forbidden: not an operator (the token needs the "${OPERATOR_SCOPE}" scope and a subject listed in OPERATOR_SUBJECTS; a tenant's countersign:admin is not enough)`,
    ),
  );
}

/** Mirrors @ApproverLinkAuth(): the signed approver link as a bearer token, and its 401. */
export function ApiApproverLinkAuth() {
  return applyDecorators(
    ApiSecurity(APPROVER_LINK_SCHEME),
    ApiError(401, 'invalid_token: the approver link is missing, malformed, expired or not ours'),
    ApiError(429),
  );
}

/** Mirrors @ApproverBatchAuth(): a batch link (one approver, one agent, one task or MCP session) as a bearer token, and its 401. */
export function ApiApproverBatchAuth() {
  return applyDecorators(
    ApiSecurity(APPROVER_BATCH_SCHEME),
    ApiError(401, 'invalid_token: the batch link is missing, malformed, expired or not ours'),
    ApiError(429),
  );
}

/** The standard CIBA endpoints: OAuth client authentication (Basic, or in the form), and its 401. */
export function ApiCibaClientAuth() {
  return applyDecorators(
    ApiSecurity(CIBA_CLIENT_SCHEME),
    ApiError(401, 'invalid_client: client authentication failed (with a Basic challenge when Basic was tried)'),
    ApiError(429),
  );
}

/** Mirrors @Public(): an explicit empty security requirement, which OpenAPI reads as "no credential". */
export function ApiPublic() {
  return ApiSecurity({});
}

/** A success response; `schema` when the body is worth describing. */
export function ApiSuccess(status: number, description: string, schema?: SchemaObject) {
  return ApiResponse(schema ? { status, description, schema } : { status, description });
}

/** A response that is an HTML page (the approval page answers errors as pages, not JSON). */
export function ApiHtml(status: number, description: string) {
  return ApiResponse({ status, description, content: { 'text/html': { schema: { type: 'string' } } } });
}
