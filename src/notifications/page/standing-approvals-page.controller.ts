import { Body, Controller, Get, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Public } from '../../common/auth/auth.decorators';
import { ApiFormBody, ApiHtml, ApiPublic } from '../../common/openapi/openapi.decorators';
import { sameOrigin, send } from './approval-page.controller';
import { renderDecisionResult } from './approval-page.html';
import { renderStandingPage, StandingApprovalsPage } from './standing-approvals.page';

const revokeSchema = z.object({
  link: z.string().max(4096).optional(),
  csrf: z.string().max(4096).optional(),
  id: z.string().regex(/^sta_[0-9a-f-]{36}$/, { message: 'choose a standing approval to revoke' }),
});

/** The approver's standing approvals (HTML): list and revoke, with any approver link of theirs as the credential. */
@ApiTags('approval page')
@Controller('approve/standing')
export class StandingApprovalsPageController {
  constructor(private readonly page: StandingApprovalsPage) {}

  @Get()
  @Public()
  @ApiOperation({ summary: "The approver's standing approvals, each with what it covers and a Revoke button (HTML; the link in the query is the credential)" })
  @ApiPublic()
  @ApiQuery({ name: 'link', required: true, schema: { type: 'string' }, description: 'A signed approver link of theirs' })
  @ApiHtml(200, 'Their standing approvals in force')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(410, 'The link has expired')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async show(@Query('link') link: string | undefined, @Res() reply: FastifyReply) {
    return send(reply, await this.page.view(typeof link === 'string' ? link : undefined), renderStandingPage);
  }

  @Post()
  @Public()
  @ApiOperation({ summary: "Revoke one of the approver's standing approvals from the page (HTML; the form carries the link)" })
  @ApiPublic()
  @ApiFormBody(revokeSchema)
  @ApiHtml(200, 'Revoked; the remaining standing approvals')
  @ApiHtml(400, 'The form is not complete')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(403, 'Posted from another site, or the form token is stale')
  @ApiHtml(404, 'No standing approval of theirs has this id')
  @ApiHtml(410, 'The link has expired')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async revoke(@Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!sameOrigin(request)) {
      return send(
        reply,
        { ok: false, error: { status: 403, title: 'Request refused', message: 'The form was submitted from another site.' } },
        renderDecisionResult,
      );
    }
    const parsed = revokeSchema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return send(
        reply,
        { ok: false, error: { status: 400, title: 'Nothing was revoked', message: `${String(issue.path[0] ?? 'form')}: ${issue.message}.` } },
        renderStandingPage,
      );
    }
    return send(reply, await this.page.revoke(parsed.data), renderStandingPage);
  }
}
