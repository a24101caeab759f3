import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApproverBatchAuth, ApproverBatchPrincipal, ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal } from '../../common/auth/auth.decorators';
import { Forbidden, NotFound } from '../../common/errors/protocol-errors';
import { ApiApproverBatchAuth, ApiApproverLinkAuth, ApiError, ApiErrors, ApiJsonBody, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { parseInput } from '../../common/validation';
import { AUTH_REQ_ID } from '../../vocabulary/envelope';
import { GetApproval } from '../get-approval.usecase';
import { batchVotesSchema, ReviewBatch } from './review-batch.usecase';

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
    '`{approver_id, agent_id, task_id | mcp_session_id, items}`: each item with auth_req_id, binding_message, tool_call (with every argument), call_hash, delegator, intent, resource, environment, risk, reason, expires_at, quorum and votes',
  )
  list(@CurrentPrincipal() approver: ApproverBatchPrincipal) {
    return this.batch.list(approver);
  }

  @Post('batch/votes')
  @ApproverBatchAuth()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Decide several requests of the batch: each with its own decision (`decisions`), or all alike (`all` with `auth_req_ids` and one `reason`). ' +
      'Each is one vote through the same decision as POST /v1/approvals/{id}/decisions, with its own audit event; a request that cannot take the vote is reported and unchanged, and never undoes the others',
  })
  @ApiApproverBatchAuth()
  @ApiJsonBody('BatchVotes', batchVotesSchema)
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
