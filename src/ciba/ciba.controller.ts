import { Body, Controller, Get, Header, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AUTH_REQ_ID } from '../vocabulary/envelope';
import { RedeemApprovalToken } from '../approvals/redeem-approval-token.usecase';
import { Public } from '../common/auth/auth.decorators';
import { InvalidGrant, UnsupportedGrantType } from '../common/errors/protocol-errors';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { RateLimiter } from '../common/rate-limit/rate-limiter.service';
import { parseInput } from '../common/validation';
import { ApiCibaClientAuth, ApiError, ApiFormBody, ApiPublic, ApiSuccess } from '../common/openapi/openapi.decorators';
import { backchannelForm, oauthForm, parseBackchannelRequest, tokenRequestForm } from './backchannel-request';
import { CibaClientAuthentication } from './clients/client-authentication.service';
import { BACKCHANNEL_PATH, CIBA_GRANT_TYPE, endpointUrl, openIdMetadata, TOKEN_PATH } from './openid-metadata';
import { StartBackchannelAuthentication } from './start-backchannel-authentication.usecase';

/**
 * The standard OpenID CIBA endpoints. They are public in the bearer sense: each request
 * authenticates as a registered client instead (client secret or private_key_jwt).
 */
@ApiTags('OpenID CIBA')
@Controller()
export class CibaController {
  constructor(
    private readonly keys: SigningKeys,
    private readonly clients: CibaClientAuthentication,
    private readonly start: StartBackchannelAuthentication,
    private readonly redeem: RedeemApprovalToken,
    private readonly limits: RateLimiter,
  ) {}

  @Get(['.well-known/openid-configuration', '.well-known/oauth-authorization-server'])
  @Public()
  @ApiPublic()
  @ApiOperation({ summary: 'OpenID Provider / OAuth AS metadata (OpenID Discovery, RFC 8414, CIBA Core §4)' })
  @ApiSuccess(200, 'The metadata: issuer, the CIBA endpoints, delivery modes, RAR types, client authentication methods')
  @Header('Cache-Control', 'public, max-age=300')
  metadata() {
    return openIdMetadata(this.keys.issuer, this.keys.algorithm);
  }

  @Post(BACKCHANNEL_PATH.slice(1))
  @Public()
  @ApiCibaClientAuth()
  @ApiOperation({ summary: "Backchannel authentication request (CIBA Core §7): park a tool call for a human's OK" })
  @ApiFormBody(backchannelForm)
  @ApiSuccess(200, '{auth_req_id, expires_in, interval} (no interval for push clients)')
  @ApiError(
    400,
    'invalid_request, invalid_scope (no "openid"), unknown_user_id, expired_login_hint_token, invalid_binding_message, ' +
      'invalid_authorization_details (RFC 9396; `field` names the detail member)',
  )
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async backchannelAuthentication(@Headers() headers: Record<string, string | undefined>, @Body() body: unknown) {
    // The client first (CIBA Core §7.1, step 1): an unauthenticated caller learns nothing about its request.
    const client = await this.clients.authenticate({ authorization: headers.authorization, body: asRecord(body), audiences: this.audiences(BACKCHANNEL_PATH) });
    await this.limits.consume('ciba_client', `${client.tenantId}\n${client.clientId}`);
    const form = oauthForm(headers['content-type'], body);
    return this.start.execute(client, parseBackchannelRequest(form, client.backchannelTokenDeliveryMode));
  }

  @Post(TOKEN_PATH.slice(1))
  @Public()
  @ApiCibaClientAuth()
  @ApiOperation({ summary: 'Token request with grant_type urn:openid:params:grant-type:ciba (CIBA Core §10)' })
  @ApiFormBody(tokenRequestForm)
  @ApiSuccess(200, '{access_token (the call-bound approval token, with authorization_details), token_type, expires_in, id_token, scope, authorization_details}')
  @ApiError(400, 'authorization_pending, slow_down (with interval), expired_token, access_denied, invalid_grant, unsupported_grant_type, invalid_request')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async token(@Headers() headers: Record<string, string | undefined>, @Body() body: unknown) {
    // The client first (CIBA Core §7.1, step 1): an unauthenticated caller learns nothing about its request.
    const client = await this.clients.authenticate({ authorization: headers.authorization, body: asRecord(body), audiences: this.audiences(TOKEN_PATH) });
    await this.limits.consume('ciba_client', `${client.tenantId}\n${client.clientId}`);
    const form = oauthForm(headers['content-type'], body);
    const { grant_type } = parseInput(tokenRequestForm.pick({ grant_type: true }), form);
    if (grant_type !== CIBA_GRANT_TYPE) throw new UnsupportedGrantType(`grant_type must be ${CIBA_GRANT_TYPE}`);
    const { auth_req_id } = parseInput(tokenRequestForm, form);
    if (!AUTH_REQ_ID.test(auth_req_id)) throw new InvalidGrant('unknown auth_req_id');
    return this.redeem.execute({ tenantId: client.tenantId, approvalId: auth_req_id, clientId: client.clientId });
  }

  /** RFC 7523 §3: a client assertion names the issuer or the endpoint it is sent to. */
  private audiences(path: string): string[] {
    return [this.keys.issuer, endpointUrl(this.keys.issuer, path)];
  }
}

function asRecord(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
}
