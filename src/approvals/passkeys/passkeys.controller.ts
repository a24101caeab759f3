import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal } from '../../common/auth/auth.decorators';
import { NotFound } from '../../common/errors/protocol-errors';
import { ApiApproverLinkAuth, ApiError, ApiErrors, ApiJsonBody, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { parseInput } from '../../common/validation';
import { AUTH_REQ_ID } from '../../vocabulary/envelope';
import { decisionChallengeSchema, managementChallengeSchema, preferenceSchema, registrationSchema, removalSchema } from './passkey.schema';
import { Passkeys } from './passkeys.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Approvers' passkeys, from the approval page: the page's link authenticates the approver, so a
 * passkey always belongs to the approver (and tenant) the link was sent to.
 */
@ApiTags('passkeys')
@Controller()
export class PasskeysController {
  constructor(private readonly passkeys: Passkeys) {}

  @Get('v1/passkeys')
  @ApproverLinkAuth()
  @ApiOperation({ summary: 'The approver\'s passkeys and their "always decide with my passkey" choice' })
  @ApiApproverLinkAuth()
  @ApiSuccess(200, '`{passkeys: [{id, name, credential_id, transports, created_at, last_used_at}], always}`')
  list(@CurrentPrincipal() approver: ApproverPrincipal) {
    return this.passkeys.list(approver);
  }

  @Post('v1/passkeys/registration-options')
  @ApproverLinkAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Start registering a passkey: options for navigator.credentials.create() (user verification required; the challenge is single-use and lives 5 minutes)',
  })
  @ApiApproverLinkAuth()
  @ApiSuccess(200, 'PublicKeyCredentialCreationOptionsJSON (as @simplewebauthn/browser startRegistration takes it)')
  registrationOptions(@CurrentPrincipal() approver: ApproverPrincipal) {
    return this.passkeys.registrationOptions(approver);
  }

  @Post('v1/passkeys')
  @ApproverLinkAuth()
  @HttpCode(201)
  @ApiOperation({
    summary:
      "Finish registering a passkey: the authenticator's response to the registration options. The first passkey needs the link alone (trust on first use); " +
      "after it, `proof` is required: an assertion by one of the approver's passkeys over a `register` management challenge",
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PasskeyRegistration', registrationSchema)
  @ApiError(
    400,
    'passkey_challenge_unknown: the challenge (of the response or of `proof`) was not issued to this approver, was used or expired; passkey_mismatch: `proof` signs another action; ' +
      'passkey_invalid: the response or `proof` does not verify (origin, RP id, user verification, a passkey of this approver); invalid_request: already registered',
  )
  @ApiError(403, 'passkey_required: the approver has a passkey and the request carries no `proof`')
  @ApiSuccess(201, '`{id, name, credential_id, transports, created_at, last_used_at}`')
  register(@CurrentPrincipal() approver: ApproverPrincipal, @Body() body: unknown) {
    const input = parseInput(registrationSchema, body);
    return this.passkeys.register(approver, input as never);
  }

  @Delete('v1/passkeys/:id')
  @ApproverLinkAuth()
  @HttpCode(204)
  @ApiOperation({
    summary:
      "Remove one of the approver's passkeys. The body's `proof` is required: an assertion by one of the approver's passkeys over a `remove` management challenge for this passkey",
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PasskeyRemoval', removalSchema)
  @ApiError(
    400,
    "passkey_challenge_unknown, passkey_mismatch (`proof` signs another action or passkey), passkey_invalid: as for a vote's passkey, with `field` proof",
  )
  @ApiError(403, 'passkey_required: no `proof`')
  @ApiErrors(404)
  @ApiSuccess(204, 'Removed')
  async remove(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string, @Body() body: unknown) {
    if (!UUID.test(id)) throw new NotFound('no such passkey');
    const { proof } = parseInput(removalSchema, body ?? {});
    await this.passkeys.remove(approver, id, proof);
  }

  @Put('v1/passkeys/preference')
  @ApproverLinkAuth()
  @ApiOperation({
    summary:
      'Always decide with my passkey (or not): with it on, a vote by this approver without a passkey assertion is refused. ' +
      'Switching it off while the approver has a passkey needs `proof`: an assertion over a `preference` management challenge',
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PasskeyPreference', preferenceSchema)
  @ApiError(
    400,
    'invalid_request: `always` is not a boolean, or it is true and the approver has no passkey; passkey_challenge_unknown, passkey_mismatch, passkey_invalid: `proof` is refused',
  )
  @ApiError(403, 'passkey_required: `always` false without `proof` while the approver has a passkey')
  @ApiSuccess(200, '`{always}`')
  setAlways(@CurrentPrincipal() approver: ApproverPrincipal, @Body() body: unknown) {
    const { always, proof } = parseInput(preferenceSchema, body);
    return this.passkeys.setAlways(approver, always, proof);
  }

  @Post('v1/passkeys/management-challenge')
  @ApproverLinkAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      "The WebAuthn challenge of one change to the approver's passkeys (register another, remove `passkey_id`, switch `always` off): " +
      'base64url(SHA-256(canonical JSON of {tenant, approver, action, target, nonce})), with the options for navigator.credentials.get(). ' +
      'Sign it with one of your passkeys and send the assertion as `proof` with that change; single-use, 5 minutes',
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PasskeyManagementChallenge', managementChallengeSchema)
  @ApiError(400, 'invalid_request: a field is missing or wrong, or the approver has no passkey yet (nothing to sign with: the first one needs no proof)')
  @ApiErrors(404)
  @ApiSuccess(
    200,
    "`{challenge, bound, expires_at, options}`: options is PublicKeyCredentialRequestOptionsJSON (user verification required, this approver's passkeys only)",
  )
  managementChallenge(@CurrentPrincipal() approver: ApproverPrincipal, @Body() body: unknown) {
    return this.passkeys.managementChallenge(approver, parseInput(managementChallengeSchema, body));
  }

  @Post('v1/approvals/:id/passkey-challenge')
  @ApproverLinkAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'The WebAuthn challenge of one decision: base64url(SHA-256(canonical JSON of {tenant, auth_req_id, call_hash, approver, decision, reason, nonce})), ' +
      'with the options for navigator.credentials.get(). Sign it, then vote with the same decision and reason and the assertion as `passkey`',
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PasskeyDecisionChallenge', decisionChallengeSchema)
  @ApiError(400, 'invalid_request: a field is missing or wrong, or the approver has no passkey (`field` is passkey)')
  @ApiError(403, 'forbidden: the link is for another request, or this approver may not vote on it')
  @ApiErrors(404, 409)
  @ApiSuccess(
    200,
    "`{challenge, bound, expires_at, options}`: options is PublicKeyCredentialRequestOptionsJSON (user verification required, this approver's passkeys only)",
  )
  decisionChallenge(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string, @Body() body: unknown) {
    if (!AUTH_REQ_ID.test(id)) throw new NotFound('no such approval request');
    const { decision, reason } = parseInput(decisionChallengeSchema, body);
    return this.passkeys.decisionChallenge(approver, id, decision, reason);
  }
}
