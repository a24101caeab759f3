import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../common/auth/auth.decorators';
import { parseInput } from '../common/validation';
import { cibaCodeForField } from '../approvals/park-approval.command';
import { authorizeSchema } from './authorize.command';
import { Authorize } from './authorize.usecase';

const STATUS = { allow: 200, deny: 403, allow_with_obligations: 202 } as const;

@Controller('v1/authorize')
export class AuthorizeController {
  constructor(private readonly authorize: Authorize) {}

  /** The gateway's one question per tool call: allow (200), deny (403) or parked for approval (202). */
  @Post()
  @GatewayAuth()
  async decide(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseInput(authorizeSchema, body, cibaCodeForField);
    const result = await this.authorize.execute(gateway, input);
    reply.status(STATUS[result.verdict]);
    const { approval, ...rest } = result;
    return approval ? { ...rest, ...approval } : rest;
  }

  /** What-if against the active policy set: the verdict and the determining policies, without side effects. */
  @Post('simulate')
  @GatewayAuth(ADMIN_SCOPE)
  @HttpCode(200)
  simulate(@CurrentPrincipal() admin: GatewayPrincipal, @Body() body: unknown) {
    return this.authorize.simulate(admin.tenantId, parseInput(authorizeSchema, body, cibaCodeForField));
  }
}
