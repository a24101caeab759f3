import { Body, Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Public } from '../../common/auth/auth.decorators';
import { ApiFormBody, ApiHtml, ApiPublic } from '../../common/openapi/openapi.decorators';
import { storable } from '../../common/validation';
import { sameOrigin, send } from '../page/approval-page.controller';
import { renderReviewPage } from './review-page.html';
import { ReviewPage } from './review-page.service';

const formSchema = z.object({
  link: z.string().max(4096).optional(),
  answer: z.enum(['looks_right', 'flag'], { message: 'choose Looks right or Flag' }),
  reason: z
    .string({ message: 'a reason is required' })
    .trim()
    .min(1, { message: 'a reason is required' })
    .max(2000, { message: 'the reason must be at most 2000 characters' })
    .refine(storable, { message: 'the reason must not contain a NUL character or an unpaired surrogate' }),
});

/** The reviewer's page for a sampled call, opened from the link in a notification (the link is the credential). */
@ApiTags('sampled review page')
@Controller()
export class ReviewPageController {
  constructor(private readonly page: ReviewPage) {}

  @Get('review/:id')
  @Public()
  @ApiOperation({ summary: "The reviewer's page for one sampled call (HTML; public route, the link in the query is the credential)" })
  @ApiPublic()
  @ApiQuery({ name: 'link', required: true, schema: { type: 'string' }, description: 'The signed review link from the notification' })
  @ApiHtml(200, 'The call and the looks right / flag form; once answered, the answer')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(404, 'No review matches the link')
  @ApiHtml(410, 'The review or the link has expired')
  async show(@Param('id') id: string, @Query('link') link: unknown, @Res() reply: FastifyReply) {
    return send(reply, await this.page.view(id, typeof link === 'string' ? link : undefined), renderReviewPage);
  }

  @Post('review/:id')
  @Public()
  @ApiOperation({ summary: "The reviewer's answer from the page's form (HTML; public route, the form carries the link)" })
  @ApiPublic()
  @ApiFormBody(formSchema)
  @ApiHtml(200, 'The answer was recorded (review.reviewed); a flag counts in context.agent_flags')
  @ApiHtml(400, 'The form is not complete; the message names the field')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(
    403,
    "Posted from another site, or the link's reviewer is disabled in the directory or no longer one of the review's reviewers (read again at answer time)",
  )
  @ApiHtml(404, 'No review matches the link')
  @ApiHtml(409, 'The call has been reviewed already (a review takes one answer)')
  @ApiHtml(410, 'The review or the link has expired')
  async answer(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!sameOrigin(request))
      return send(
        reply,
        { ok: false, error: { status: 403, title: 'Request refused', message: 'The form was submitted from another site.' } },
        renderReviewPage,
      );
    const parsed = formSchema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return send(
        reply,
        { ok: false, error: { status: 400, title: 'Your answer was not recorded', message: `${String(issue.path[0] ?? 'form')}: ${issue.message}.` } },
        renderReviewPage,
      );
    }
    return send(reply, await this.page.submit(id, parsed.data), renderReviewPage);
  }
}
