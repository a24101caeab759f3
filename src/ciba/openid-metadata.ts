import { TOOL_CALL_DETAIL_TYPE } from './backchannel-request';
import { ASSERTION_ALGORITHMS } from './clients/ciba-client.commands';
import { DELIVERY_MODES } from '../vocabulary/envelope';
import { AUTH_METHODS } from './clients/ciba-client.entity';
import { AUTH_REQ_ID_CLAIM } from './requests/ciba-requests';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';
export const BACKCHANNEL_PATH = '/oauth/bc-authorize';
export const TOKEN_PATH = '/oauth/token';

/** Where an endpoint lives under the issuer (the issuer may carry a path of its own). */
export function endpointUrl(issuer: string, path: string): string {
  return issuer.replace(/\/+$/, '') + path;
}

/**
 * OpenID Provider / OAuth AS metadata (OpenID Discovery, RFC 8414, CIBA Core §4, RFC 9396 §10):
 * what a standard client reads to drive the backchannel flow without knowing Countersign.
 */
export function openIdMetadata(issuer: string, idTokenAlgorithm: string): Record<string, unknown> {
  return {
    issuer,
    backchannel_authentication_endpoint: endpointUrl(issuer, BACKCHANNEL_PATH),
    token_endpoint: endpointUrl(issuer, TOKEN_PATH),
    jwks_uri: endpointUrl(issuer, '/.well-known/jwks.json'),
    grant_types_supported: [CIBA_GRANT_TYPE],
    backchannel_token_delivery_modes_supported: [...DELIVERY_MODES],
    backchannel_user_code_parameter_supported: false,
    authorization_details_types_supported: [TOOL_CALL_DETAIL_TYPE],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    scopes_supported: ['openid'],
    response_types_supported: [],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [idTokenAlgorithm],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'at_hash', AUTH_REQ_ID_CLAIM],
    service_documentation: endpointUrl(issuer, '/docs'),
  };
}
