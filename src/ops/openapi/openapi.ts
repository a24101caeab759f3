/**
 * The OpenAPI 3.1 document of the HTTP API and the Swagger UI that shows it: UI at /docs, JSON at
 * /docs/json, both public. Built from the controllers' decorators (see openapi.decorators.ts) the
 * first time it is asked for, so it costs start-up nothing.
 */
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SchemaObject, SwaggerModule } from '@nestjs/swagger';
import {
  APPROVER_BATCH_SCHEME,
  APPROVER_LINK_SCHEME,
  CIBA_CLIENT_SCHEME,
  ERROR_SCHEMA,
  GATEWAY_SCHEME,
  requestSchemaComponents,
} from '../../common/openapi/openapi.decorators';

export const DOCS_PATH = '/docs';
export const DOCS_JSON_PATH = '/docs/json';

/** The body of every error (ProtocolError.body() and the exception filter's fallback). */
const errorSchema: SchemaObject = {
  type: 'object',
  description:
    'Every error is an OAuth/CIBA-style code with a human-readable description; validation errors name the fields. ' +
    'Some codes carry more: `interval` (authorization_pending, slow_down), `status` (request_closed), `reason` and `denials` (access_denied). ' +
    'Anything unexpected is a 500 `server_error` without detail.',
  required: ['error', 'error_description'],
  properties: {
    error: {
      type: 'string',
      description:
        'invalid_request, invalid_binding_message, invalid_client_notification_token, invalid_policy, authorization_pending, slow_down, ' +
        'expired_token, access_denied, invalid_grant, invalid_client, unauthorized_client, invalid_token, insufficient_scope, forbidden, not_found, ' +
        'request_closed, already_voted, client_id_taken, invalid_scope, unknown_user_id, expired_login_hint_token, invalid_authorization_details, ' +
        'unsupported_grant_type, server_error (see src/common/errors/protocol-errors.ts and src/ciba/ciba-errors.ts)',
      example: 'invalid_request',
    },
    error_description: { type: 'string', example: 'obligation.approvers: must name at least one approver' },
    field: { type: 'string', description: 'The first field that is not valid, as a dotted path', example: 'obligation.approvers' },
    errors: {
      type: 'array',
      description: 'Every field that is not valid',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    interval: { type: 'integer', description: 'authorization_pending, slow_down: seconds to wait before polling again' },
  },
  additionalProperties: true,
};

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Countersign')
    .setDescription(
      "Runtime authorization and human approval for AI agents' tool calls (CIBA-style). " +
        'Gateways call with their bearer JWT; approvers act through the signed link in their notification.',
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          "A gateway's JWT from the trusted issuer, naming its tenant. The scopes an operation lists (countersign:admin, " +
          "countersign:audit, countersign:delegations) must be in the token's `scope` (or `scp`) claim. " +
          "countersign:operator (metrics, the queue dashboard) also needs the token's `sub` listed in OPERATOR_SUBJECTS.",
      },
      GATEWAY_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWS',
        description: 'The approver link: a JWS this service signed for one approver and one approval request, sent in their notification.',
      },
      APPROVER_LINK_SCHEME,
    )
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWS',
        description:
          'A batch link: a short-lived JWS this service signed for one approver, one tenant, one agent and one task (or, for calls that named no task, one MCP session). ' +
          'Get one with POST /v1/approvals/{id}/batch-link and an approver link of that request; the approval page offers it when several such requests wait.',
      },
      APPROVER_BATCH_SCHEME,
    )
    .addBasicAuth(
      {
        type: 'http',
        scheme: 'basic',
        description:
          'A registered CIBA client (see /v1/ciba-clients) authenticates with the method it registered: HTTP Basic (client_secret_basic), ' +
          'or in the form itself: client_id + client_secret (client_secret_post), or client_assertion_type + client_assertion (private_key_jwt, RFC 7523).',
      },
      CIBA_CLIENT_SCHEME,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, [ERROR_SCHEMA]: errorSchema, ...requestSchemaComponents() },
  };
  return document;
}

/**
 * Mounts the UI and the JSON document. Plain Fastify routes (the AuthGuard never sees them) and
 * public: the document holds nothing a caller could not learn from the API itself. The approval
 * page's CSP is set on its own responses only, so it does not apply to the UI.
 */
export function serveOpenApiDocs(app: INestApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: DOCS_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'Countersign API',
  });
}
