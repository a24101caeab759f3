import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Public } from '../../common/auth/auth.decorators';
import { ApiFormBody, ApiHtml, ApiPublic } from '../../common/openapi/openapi.decorators';
import { sameOrigin, send } from './approval-page.controller';
import { renderDecisionResult } from './approval-page.html';
import { BatchForm, BatchReviewPage, renderBatchPage, renderBatchResult } from './batch-review.page';

/** The form as the document describes it; per call it also carries `decision.<auth_req_id>` (approve, deny, later) and `reason.<auth_req_id>`. */
const batchFormSchema = z.object({
  link: z.string(),
  csrf: z.string(),
  all: z.enum(['approve', 'deny', 'each']),
  reason: z.string().max(2000),
  ids: z.array(z.string()),
});

/** Batch review (HTML): a batch link is the credential, as an approver link is on the approval page. */
@ApiTags('approval page')
@Controller('approve/batch')
export class BatchReviewPageController {
  constructor(private readonly page: BatchReviewPage) {}

  @Get()
  @Public()
  @ApiOperation({
    summary:
      "The approver's pending calls from one agent for one task on one page, each with every argument, to decide all alike or each (HTML; the batch link in the query is the credential)",
  })
  @ApiPublic()
  @ApiQuery({ name: 'link', required: true, schema: { type: 'string' }, description: 'A batch link, as the approval page offers it' })
  @ApiHtml(200, 'The calls and the form')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(403, 'The approver is disabled in the directory')
  @ApiHtml(410, 'The link has expired (batch links last 15 minutes)')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async show(@Query('link') link: string | undefined, @Res() reply: FastifyReply) {
    return send(reply, await this.page.view(typeof link === 'string' ? link : undefined), renderBatchPage);
  }

  @Post()
  @Public()
  @ApiOperation({
    summary: 'Decide the batch from the page: all alike with one reason, or each; one vote per call, each reported (HTML; the form carries the link)',
  })
  @ApiPublic()
  @ApiFormBody(batchFormSchema)
  @ApiHtml(200, 'What happened to each call: recorded, or not recorded and why (nothing changed for those)')
  @ApiHtml(400, 'The form is not complete (the page names the field)')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(403, 'Posted from another site, or the form token is stale')
  @ApiHtml(410, 'The link has expired')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async decide(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!sameOrigin(request)) {
      return send(
        reply,
        { ok: false, error: { status: 403, title: 'Request refused', message: 'The form was submitted from another site.' } },
        renderDecisionResult,
      );
    }
    const form = body && typeof body === 'object' && !Array.isArray(body) ? (body as BatchForm) : {};
    return send(reply, await this.page.submit(form), renderBatchResult);
  }
}
