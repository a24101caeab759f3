import { Body, Controller, Get, Header, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { assertionSchema } from '../../approvals/passkeys/passkey.schema';
import { standingChoiceSchema } from '../../approvals/standing/standing-choice.schema';
import type { StandingChoice } from '../../approvals/standing/standing-terms';
import { Public } from '../../common/auth/auth.decorators';
import { storable } from '../../common/validation';
import { ApiFormBody, ApiHtml, ApiPublic } from '../../common/openapi/openapi.decorators';
import { renderAlreadyDecided, renderApprovalPage, renderDecisionResult, renderErrorPage } from './approval-page.html';
import { ApprovalPage, PageOutcome } from './approval-page.service';
import { PAGE_CSS, PAGE_CSS_PATH, PAGE_JS, PAGE_JS_PATH, SERVICE_WORKER_JS, WEBAUTHN_JS, WEBAUTHN_JS_PATH } from './page.assets';

/** No third-party anything; scripts and styles only from our own origin; no framing; forms post only to us. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'; worker-src 'self'";

/** A whole-number form field, left out when empty, then checked by `then` (the API's own rule). */
const wholeNumber = (then: z.ZodType<number | undefined, number | undefined>, message: string) =>
  z
    .string()
    .trim()
    .regex(/^[0-9]{0,9}$/, { message })
    .optional()
    .transform((v) => (v ? Number(v) : undefined))
    .pipe(then);

const formSchema = z
  .object({
    link: z.string().max(4096).optional(),
    csrf: z.string().max(4096).optional(),
    decision: z.enum(['approve', 'deny'], { message: 'choose Approve or Deny' }),
    reason: z
      .string({ message: 'a reason for access is required' })
      .trim()
      .min(1, { message: 'a reason for access is required' })
      .max(2000, { message: 'the reason must be at most 2000 characters' })
      .refine(storable, { message: 'the reason must not contain a NUL character or an unpaired surrogate' }),
    /** How far an approval stands (standing-choice.ts); only what the policy offers is accepted. */
    standing: z.enum(['call', 'session', 'window'], { message: 'choose one of the offered scopes' }).optional(),
    /** A standing approval's terms, each within the policy's (the API's standing.expires_in, max_uses and pin). */
    standing_expires_in: wholeNumber(standingChoiceSchema.shape.expires_in, 'must be a whole number of seconds'),
    standing_max_uses: wholeNumber(standingChoiceSchema.shape.max_uses, 'must be a whole number'),
    /** One field per argument ticked to pin. */
    standing_pin: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .transform((v) => (v === undefined ? undefined : [v].flat()))
      .pipe(standingChoiceSchema.shape.pin),
    /** The WebAuthn assertion over this decision (JSON), when the approver signs it with a passkey. */
    passkey: z
      .string()
      .max(65536)
      .optional()
      .transform((v, ctx) => {
        if (!v) return undefined;
        try {
          return assertionSchema.parse(JSON.parse(v));
        } catch {
          ctx.addIssue({ code: 'custom', message: 'the passkey signature is damaged; sign again' });
          return z.NEVER;
        }
      }),
  })
  .transform(({ standing, standing_expires_in, standing_max_uses, standing_pin, ...form }) => {
    // The terms go with a standing scope only; "this call only" has none. Terms left out are the policy's.
    const choice: StandingChoice | undefined =
      standing === 'session' || standing === 'window'
        ? { scope: standing, expires_in: standing_expires_in, max_uses: standing_max_uses, pin: standing_pin }
        : standing && { scope: standing };
    return { ...form, standing: choice };
  });

/**
 * The approver's page, opened from the link in a notification. The link (a signed, per-approver
 * JWS) is the credential, so these routes are @Public and check it themselves: a bad link gets a
 * page that says what is wrong, not a JSON 401.
 */
@ApiTags('approval page')
@Controller()
export class ApprovalPageController {
  constructor(private readonly page: ApprovalPage) {}

  @Get('approve/:id')
  @Public()
  @ApiOperation({ summary: "The approver's page for one request (HTML; public route, the link in the query is the credential)" })
  @ApiPublic()
  @ApiQuery({ name: 'link', required: true, schema: { type: 'string' }, description: 'The signed approver link from the notification' })
  @ApiHtml(200, 'The request and the approve/deny form; once this approver has voted, their decision, the status and (when settled) who decided what and why')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(403, 'This approver may not decide this request')
  @ApiHtml(404, 'No request matches the link')
  @ApiHtml(410, 'The request is closed (approved, denied, expired, cancelled) or the link has expired')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async show(@Param('id') id: string, @Query('link') link: string | undefined, @Res() reply: FastifyReply) {
    const outcome = await this.page.view(id, typeof link === 'string' ? link : undefined);
    return send(reply, outcome, (m) => ('kind' in m ? renderAlreadyDecided(m) : renderApprovalPage(m)));
  }

  @Post('approve/:id')
  @Public()
  @ApiOperation({ summary: "The approver's decision from the page's form (HTML; public route, the form carries the link)" })
  @ApiPublic()
  @ApiFormBody(formSchema)
  @ApiHtml(200, 'The decision was recorded')
  @ApiHtml(400, 'The form is not complete')
  @ApiHtml(401, 'The link is missing, damaged or not issued by this service')
  @ApiHtml(403, 'Posted from another site, the form token is stale, or this approver may not decide')
  @ApiHtml(404, 'No request matches the link')
  @ApiHtml(409, 'The link has been used, or the request is closed')
  @ApiHtml(410, 'The request or the link has expired')
  @ApiHtml(429, 'This link was used too often (RATE_LIMIT_APPROVER_LINK); Retry-After says when to try again')
  async decide(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    if (!sameOrigin(request)) {
      return send(
        reply,
        { ok: false, error: { status: 403, title: 'Request refused', message: 'The form was submitted from another site.' } },
        renderDecisionResult,
      );
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
  // Named by its content's hash (page.assets.ts): a changed file has a new URL, so this one never changes.
  @Header('cache-control', 'public, max-age=31536000, immutable')
  @Header('x-content-type-options', 'nosniff')
  @ApiExcludeEndpoint() // the page's own assets, not API
  css() {
    return PAGE_CSS;
  }

  @Get(PAGE_JS_PATH.slice(1))
  @Public()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=31536000, immutable')
  @Header('x-content-type-options', 'nosniff')
  @ApiExcludeEndpoint()
  js() {
    return PAGE_JS;
  }

  @Get(WEBAUTHN_JS_PATH.slice(1))
  @Public()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=31536000, immutable')
  @Header('x-content-type-options', 'nosniff')
  @ApiExcludeEndpoint()
  webauthnJs() {
    return WEBAUTHN_JS;
  }

  /** Browsers ask for it on every page; an empty answer keeps their consoles (and our logs) free of 404s. */
  @Get('favicon.ico')
  @Public()
  @HttpCode(204)
  @Header('cache-control', 'public, max-age=86400')
  @ApiExcludeEndpoint()
  favicon() {
    return;
  }

  /** At the root so that its scope covers the approval pages. */
  @Get('sw.js')
  @Public()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  @Header('x-content-type-options', 'nosniff')
  @ApiExcludeEndpoint()
  serviceWorker() {
    return SERVICE_WORKER_JS;
  }
}

/**
 * CSRF defence in depth (the form also carries the link and a signed form token, which another
 * site cannot know): a browser's Origin or Sec-Fetch-Site must say the post came from this site.
 */
export function sameOrigin(request: FastifyRequest): boolean {
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

export function send<T>(reply: FastifyReply, outcome: PageOutcome<T>, render: (m: T) => string) {
  reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    // The page carries the link and a form token: never cache it.
    .header('cache-control', 'no-store');
  if (outcome.ok) return reply.status(200).send(render(outcome.model));
  if (outcome.error.retryAfterSeconds) reply.header('retry-after', String(outcome.error.retryAfterSeconds));
  return reply.status(outcome.error.status).send(renderErrorPage(outcome.error));
}
