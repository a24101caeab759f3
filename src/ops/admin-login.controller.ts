import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../common/auth/auth.decorators';
import { InvalidToken } from '../common/errors/protocol-errors';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ADMIN_COOKIE, ADMIN_COOKIE_PATH, OperatorCredentials } from './operator-credentials';
import { ApiError, ApiPublic } from '../common/openapi/openapi.decorators';
import { QUEUE_DASHBOARD_PATH } from './queue-dashboard.service';

/** A dashboard session lasts at most this long, and never longer than the token it carries. */
const MAX_SESSION_SECONDS = 8 * 60 * 60;

@ApiTags('ops')
@Controller('admin')
export class AdminLoginController {
  constructor(
    private readonly admin: OperatorCredentials,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Browsers cannot attach a bearer header to a dashboard: this verifies an operator's JWT
   * (?token=…, see OperatorVerifier) and hands it back as an HttpOnly, SameSite=Strict cookie scoped to /admin, then
   * redirects to the queue dashboard. @Public for the AuthGuard because it checks the token
   * itself (401 invalid token, 403 when it is not an operator's). The token travels in
   * the URL once: the response is no-store and sends no Referer onwards.
   */
  @Public()
  @Get('login')
  @ApiOperation({ summary: 'Open the queue dashboard (/admin/queues) in a browser: trades an operator token for a session cookie' })
  @ApiPublic()
  @ApiQuery({
    name: 'token',
    required: true,
    schema: { type: 'string' },
    description: 'An operator JWT (scope countersign:operator, subject in OPERATOR_SUBJECTS); it is checked here',
  })
  @ApiResponse({ status: 303, description: `To ${QUEUE_DASHBOARD_PATH}, with an HttpOnly cookie scoped to /admin` })
  @ApiError(401, 'invalid_token: the token is missing, not valid or expired')
  @ApiError(
    403,
    'insufficient_scope or forbidden: not an operator (the "countersign:operator" scope and a subject in OPERATOR_SUBJECTS; a tenant\'s countersign:admin is not enough)',
  )
  async login(@Query('token') token: unknown, @Res() reply: FastifyReply): Promise<void> {
    if (typeof token !== 'string' || !token) throw new InvalidToken('missing token parameter');
    const principal = await this.admin.verify(`Bearer ${token}`);
    const remaining = Math.floor(Number(principal.claims.exp) - Date.now() / 1000);
    if (!(remaining > 0)) throw new InvalidToken('the token has expired');
    const cookie = [
      `${ADMIN_COOKIE}=${token}`,
      `Max-Age=${Math.min(remaining, MAX_SESSION_SECONDS)}`,
      `Path=${ADMIN_COOKIE_PATH}`,
      'HttpOnly',
      'SameSite=Strict',
      ...(new URL(this.config.PUBLIC_URL).protocol === 'https:' ? ['Secure'] : []),
    ].join('; ');
    reply.header('set-cookie', cookie).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(QUEUE_DASHBOARD_PATH, 303);
  }
}
