import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApproverBatchAuth, ApproverBatchPrincipal, ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal } from '../../common/auth/auth.decorators';
import { Forbidden, NotFound } from '../../common/errors/protocol-errors';
import { ApiApproverBatchAuth, ApiApproverLinkAuth, ApiError, ApiErrors, ApiJsonBody, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { parseInput } from '../../common/validation';
import { AUTH_REQ_ID } from '../../vocabulary/envelope';
import { GetApproval } from '../get-approval.usecase';
import { batchChallengeSchema, batchVotesSchema, ReviewBatch } from './review-batch.usecase';

/**
 * Batch review over the API: a batch link lists one approver's pending requests from one agent for
 * one task (or MCP session) and decides them, each or all alike, one vote per request.
 */
@ApiTags('approvals')
@Controller('v1/approvals')
export class ApprovalBatchController {
  constructor(
    private readonly batch: ReviewBatch,
    private readonly approvals: GetApproval,
  ) {}

  @Get('batch')
  @ApproverBatchAuth()
  @ApiOperation({ summary: "The batch link's requests: this approver's pending ones from one agent for one task (or MCP session), each with its full call" })
  @ApiApproverBatchAuth()
  @ApiError(403, 'forbidden: the approver is disabled in the directory')
  @ApiSuccess(
    200,
    '`{approver_id, agent_id, task_id | mcp_session_id, items}`: each item with auth_req_id, binding_message, tool_call (with every argument), call_hash, delegator, intent, resource, environment, risk, reason, expires_at, quorum, votes and passkey_required (policy, approver or null: whether the vote must carry a passkey assertion)',
  )
  list(@CurrentPrincipal() approver: ApproverBatchPrincipal) {
    return this.batch.list(approver);
  }

  @Post('batch/passkey-challenge')
  @ApproverBatchAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'The WebAuthn challenge of a batch vote, to sign every decision with one passkey assertion: base64url(SHA-256(canonical JSON of ' +
      '{tenant, approver, items: [{auth_req_id, call_hash, decision, reason}] sorted by auth_req_id, nonce})), with the options for navigator.credentials.get(). ' +
      'Sign it, then send exactly these decisions and reasons to batch/votes with the assertion as `passkey`; single-use, 5 minutes',
  })
  @ApiApproverBatchAuth()
  @ApiJsonBody('BatchPasskeyChallenge', batchChallengeSchema)
  @ApiError(400, 'invalid_request: a field is missing or wrong, or the approver has no passkey (`field` is passkey)')
  @ApiError(403, 'forbidden: the approver is disabled, or may not vote on one of the requests')
  @ApiErrors(404, 409)
  @ApiSuccess(
    200,
    "`{challenge, bound, expires_at, options}`: options is PublicKeyCredentialRequestOptionsJSON (user verification required, this approver's passkeys only)",
  )
  passkeyChallenge(@CurrentPrincipal() approver: ApproverBatchPrincipal, @Body() body: unknown) {
    return this.batch.passkeyChallenge(approver, parseInput(batchChallengeSchema, body));
  }

  @Post('batch/votes')
  @ApproverBatchAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Decide several requests of the batch: each with its own decision (`decisions`), or all alike (`all` with `auth_req_ids` and one `reason`). ' +
      'Each is one vote through the same decision as POST /v1/approvals/{id}/decisions, with its own audit event; a request that cannot take the vote is reported and unchanged, and never undoes the others. ' +
      'With `passkey` (an assertion over batch/passkey-challenge for exactly these decisions), every vote is signed with it; the assertion is checked once, before any vote',
  })
  @ApiApproverBatchAuth()
  @ApiJsonBody('BatchVotes', batchVotesSchema)
  @ApiError(
    400,
    'passkey_challenge_unknown (replayed, expired or not issued to this approver), passkey_mismatch (the assertion signs another list), passkey_invalid: the batch `passkey` is refused and no vote is recorded',
  )
  @ApiSuccess(
    200,
    '`{recorded, refused, results}`: per request, `outcome` recorded (with status, your_vote, votes, quorum) or refused (with `error`: not_found for one outside the batch or the tenant, forbidden, request_closed with `status`, already_voted) or failed (server_error)',
  )
  vote(@CurrentPrincipal() approver: ApproverBatchPrincipal, @Body() body: unknown) {
    return this.batch.vote(approver, parseInput(batchVotesSchema, body));
  }

  @Post(':id/batch-link')
  @ApproverLinkAuth()
  @HttpCode(200)
  @ApiOperation({ summary: "A batch link (15 minutes) for the approver link's request's agent and task (or MCP session)" })
  @ApiApproverLinkAuth()
  @ApiError(403, 'forbidden: the link is for another request')
  @ApiErrors(404)
  @ApiSuccess(200, '`{token, url, list_url, votes_url, expires_at}`')
  async link(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string) {
    if (!AUTH_REQ_ID.test(id)) throw new NotFound('no such approval request');
    if (approver.authReqId !== id) throw new Forbidden('this approver link is for another approval request');
    const request = await this.approvals.request(approver.tenantId, id);
    if (!request) throw new NotFound('no such approval request');
    const minted = await this.batch.linkFor(approver, request);
    if (!minted) throw new NotFound('this request names no task and no MCP session, so it belongs to no batch');
    return minted;
  }
}
