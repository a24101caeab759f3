import { Body, Controller, Get, Header, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Public } from '../../common/auth/auth.decorators';
import { PAGE_CSS_PATH, PAGE_JS_PATH, renderApprovalPage, renderDecisionResult, renderErrorPage } from './approval-page.html';
import { ApprovalPage, PageOutcome } from './approval-page.service';
import { PAGE_CSS, PAGE_JS, SERVICE_WORKER_JS } from './page.assets';

/** No third-party anything; scripts and styles only from our own origin; no framing; forms post only to us. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'; worker-src 'self'";

const formSchema = z.object({
  link: z.string().max(4096).optional(),
  csrf: z.string().max(4096).optional(),
  decision: z.enum(['approve', 'deny'], { message: 'choose Approve or Deny' }),
  reason: z
    .string({ message: 'a reason for access is required' })
    .trim()
    .min(1, { message: 'a reason for access is required' })
    .max(2000, { message: 'the reason must be at most 2000 characters' }),
});

/**
 * The approver's page, opened from the link in a notification. The link (a signed, per-approver
 * JWS) is the credential, so these routes are @Public and check it themselves: a bad link gets a
 * page that says what is wrong, not a JSON 401.
 */
@Controller()
export class ApprovalPageController {
  constructor(private readonly page: ApprovalPage) {}

  @Get('approve/:id')
  @Public()
  async show(@Param('id') id: string, @Query('link') link: string | undefined, @Res() reply: FastifyReply) {
    const outcome = await this.page.view(id, typeof link === 'string' ? link : undefined);
    return send(reply, outcome, renderApprovalPage);
  }

  @Post('approve/:id')
  @Public()
  async decide(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!sameOrigin(request)) {
      return send(reply, { ok: false, error: { status: 403, title: 'Request refused', message: 'The form was submitted from another site.' } }, renderDecisionResult);
    }
    const parsed = formSchema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const message = `${String(issue.path[0] ?? 'form')}: ${issue.message}. Go back, fill it in and submit again.`;
      return send(reply, { ok: false, error: { status: 400, title: 'Your decision was not recorded', message } }, renderDecisionResult);
    }
    return send(reply, await this.page.submit(id, parsed.data), renderDecisionResult);
  }

  @Get(PAGE_CSS_PATH.slice(1))
  @Public()
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'public, max-age=300')
  @Header('x-content-type-options', 'nosniff')
  css() {
    return PAGE_CSS;
  }

  @Get(PAGE_JS_PATH.slice(1))
  @Public()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=300')
  @Header('x-content-type-options', 'nosniff')
  js() {
    return PAGE_JS;
  }

  /** Browsers ask for it on every page; an empty answer keeps their consoles (and our logs) free of 404s. */
  @Get('favicon.ico')
  @Public()
  @HttpCode(204)
  @Header('cache-control', 'public, max-age=86400')
  favicon() {
    return;
  }

  /** At the root so that its scope covers the approval pages. */
  @Get('sw.js')
  @Public()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  @Header('x-content-type-options', 'nosniff')
  serviceWorker() {
    return SERVICE_WORKER_JS;
  }
}

/**
 * CSRF defence in depth (the form also carries the link and a signed form token, which another
 * site cannot know): a browser's Origin or Sec-Fetch-Site must say the post came from this site.
 */
function sameOrigin(request: FastifyRequest): boolean {
  // Browsers that send Sec-Fetch-Site say it themselves. The page's no-referrer policy makes a
  // same-origin form post carry `Origin: null`, so Origin is only consulted without it.
  const site = request.headers['sec-fetch-site'];
  if (site === 'same-origin') return true;
  if (site && site !== 'none') return false;
  const origin = request.headers.origin;
  if (!origin || origin === 'null') return !origin;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function send<T>(reply: FastifyReply, outcome: PageOutcome<T>, render: (m: T) => string) {
  reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    // The page carries the link and a form token: never cache it.
    .header('cache-control', 'no-store');
  if (outcome.ok) return reply.status(200).send(render(outcome.model));
  return reply.status(outcome.error.status).send(renderErrorPage(outcome.error));
}
