import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { z } from 'zod';
import { ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../common/auth/auth.decorators';
import { InvalidGrant, NotFound } from '../common/errors/protocol-errors';
import { parseInput } from '../common/validation';
import { ApiApproverLinkAuth, ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../common/openapi/openapi.decorators';
import { AUTH_REQ_ID } from '../vocabulary/envelope';
import { CancelApproval } from './cancel-approval.usecase';
import { decisionSchema, DecideApproval } from './decide.usecase';
import { GetApproval } from './get-approval.usecase';
import { cibaCodeForField, parkApprovalSchema } from './park-approval.command';
import { ParkApproval } from './park-approval.usecase';
import { RedeemApprovalToken } from './redeem-approval-token.usecase';

const waitSchema = (max: number) =>
  z.strictObject({
    wait: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int({ message: 'must be a whole number of seconds' })
      .min(0)
      .max(max, { message: `must be at most ${max} (LONG_POLL_MAX_WAIT)` })
      .optional(),
  });

/** The largest LONG_POLL_MAX_WAIT allows, for the document (the running limit is the configured one). */
const LONG_POLL_LIMIT = 60;

@ApiTags('approvals')
@Controller('v1/approvals')
export class ApprovalsController {
  /** The long-poll's query, built once (LONG_POLL_MAX_WAIT is fixed at start-up). */
  private readonly waitSchema: ReturnType<typeof waitSchema>;

  constructor(
    private readonly park: ParkApproval,
    private readonly get: GetApproval,
    private readonly redeem: RedeemApprovalToken,
    private readonly cancel: CancelApproval,
    private readonly decide: DecideApproval,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.waitSchema = waitSchema(config.LONG_POLL_MAX_WAIT);
  }

  @Post()
  @GatewayAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Park a tool call until its approvers decide (CIBA backchannel authentication request)' })
  @ApiGatewayAuth()
  @ApiJsonBody('ParkApprovalRequest', parkApprovalSchema)
  @ApiError(
    400,
    'invalid_binding_message, invalid_client_notification_token: for those two fields; invalid_request also when the obligation names approvers nobody can be (unknown, an empty group, too few for the quorum)',
  )
  @ApiSuccess(200, 'Parked: `{auth_req_id, expires_in, interval}`')
  create(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown) {
    const input = parseInput(parkApprovalSchema, body, cibaCodeForField);
    return this.park.execute({ tenantId: gateway.tenantId, gatewayId: gateway.gatewayId, input });
  }

  @Get(':id')
  @GatewayAuth()
  @ApiOperation({ summary: 'Read an approval request: status, votes and, once decided, reasons; `wait` long-polls' })
  @ApiGatewayAuth()
  @ApiZodQuery(waitSchema(LONG_POLL_LIMIT), {
    wait: 'Seconds to hold the answer while the request is pending; at most LONG_POLL_MAX_WAIT (0 to 60, default 60)',
  })
  @ApiErrors(404)
  @ApiSuccess(200, 'The approval request')
  status(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string, @Query() query: unknown) {
    const { wait } = parseInput(this.waitSchema, query);
    return this.get.execute({ tenantId: gateway.tenantId, approvalId: knownId(id), waitSeconds: wait });
  }

  @Post(':id/token')
  @GatewayAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Redeem the approval token once the request is approved (CIBA poll mode)' })
  @ApiGatewayAuth()
  @ApiError(
    400,
    'authorization_pending or slow_down (with `interval`), expired_token, access_denied (with the denials), invalid_grant (unknown id, push mode, already redeemed)',
  )
  @ApiSuccess(200, 'The approval token, once: `{auth_req_id, approval_token, token_type, expires_in}`')
  token(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string) {
    if (!AUTH_REQ_ID.test(id)) throw new InvalidGrant('unknown auth_req_id');
    return this.redeem.execute({ tenantId: gateway.tenantId, approvalId: id });
  }

  @Delete(':id')
  @GatewayAuth()
  @ApiOperation({ summary: 'Cancel a pending approval request' })
  @ApiGatewayAuth()
  @ApiErrors(404, 409)
  @ApiSuccess(200, 'Cancelled: `{auth_req_id, status}`')
  remove(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string) {
    return this.cancel.execute({ tenantId: gateway.tenantId, approvalId: knownId(id), gatewayId: gateway.gatewayId });
  }

  @Post(':id/decisions')
  @ApproverLinkAuth()
  @HttpCode(200)
  @ApiOperation({
    summary: "Record an approver's vote (approve or deny, with a reason); an approval may stand for later calls (`standing`) where the policy allows",
  })
  @ApiApproverLinkAuth()
  @ApiJsonBody('Decision', decisionSchema)
  @ApiError(403, 'forbidden: the link is for another request, or this approver may not vote on it (not named, separation of duties, no longer in the group)')
  @ApiErrors(404, 409)
  @ApiError(
    400,
    'standing_not_offered: the policy does not allow the chosen standing scope for this call (`field` is standing.scope, `offered` lists what it allows)',
  )
  @ApiError(
    400,
    'passkey_mismatch: the assertion binds another request, call, decision or reason (`mismatched` names them); passkey_challenge_unknown: its challenge was not issued to this approver, was used already (a replay) or expired; passkey_invalid: it does not verify (origin, RP id, user verification, signature, counter)',
  )
  @ApiError(
    403,
    'passkey_required: the policy (`@proof("passkey")`) or the approver ("always use my passkey") requires a passkey assertion and the vote has none',
  )
  @ApiSuccess(200, 'The vote counted: `{auth_req_id, status, your_vote, votes, quorum}`, and `standing_approval` when one was granted')
  vote(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string, @Body() body: unknown) {
    const { decision, reason, standing, passkey } = parseInput(decisionSchema, body);
    return this.decide.execute({ approver, approvalId: knownId(id), decision, reason, standing, passkey });
  }
}

function knownId(id: string): string {
  if (!AUTH_REQ_ID.test(id)) throw new NotFound('no such approval request');
  return id;
}
