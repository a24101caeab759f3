import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../common/auth/auth.decorators';
import { parseInput } from '../common/validation';
import { ApiGatewayAuth, ApiJsonBody, ApiSuccess } from '../common/openapi/openapi.decorators';
import { cibaCodeForField } from '../approvals/park-approval.command';
import { authorizeSchema } from './authorize.command';
import { Authorize } from './authorize.usecase';
import { callableToolsSchema } from './callable-tools.command';
import { CallableTools } from './callable-tools.usecase';

const STATUS = { allow: 200, deny: 403, allow_with_obligations: 202 } as const;

@ApiTags('authorization')
@Controller('v1/authorize')
export class AuthorizeController {
  constructor(
    private readonly authorize: Authorize,
    private readonly callableTools: CallableTools,
  ) {}

  /** The gateway's one question per tool call: allow (200), deny (403) or parked for approval (202). */
  @Post()
  @GatewayAuth()
  @ApiOperation({ summary: 'Decide one tool call: allow, deny, or allow with obligations (parked for human approval)' })
  @ApiGatewayAuth()
  @ApiJsonBody('AuthorizeRequest', authorizeSchema)
  @ApiSuccess(
    200,
    'allow: the verdict, determining policies and obligations; under a sampled_review obligation also `sampled_review: {sampled, rate, sample, review_id?}` (README: how to recompute the sample)',
  )
  @ApiSuccess(202, 'allow_with_obligations: parked for approval; also carries `auth_req_id`, `expires_in` and `interval`')
  @ApiSuccess(403, 'deny: the verdict with its reasons (a decision, not an Error body)')
  async decide(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseInput(authorizeSchema, body, cibaCodeForField);
    const result = await this.authorize.execute(gateway, input);
    reply.status(STATUS[result.verdict]);
    const { approval, ...rest } = result;
    return approval ? { ...rest, ...approval } : rest;
  }

  /**
   * Which of these tools the agent could ever be allowed to call: `always_denied` when every call
   * of it is denied whatever its input (a gateway hides those from tools/list). No side effects.
   */
  @Post('tools')
  @GatewayAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'Which tools could this agent ever be allowed to call: always_denied (with reasons) for those denied whatever the input' })
  @ApiGatewayAuth()
  @ApiJsonBody('CallableToolsRequest', callableToolsSchema)
  @ApiSuccess(200, '`{tools: [{server, tool, always_denied, reasons}]}` in request order')
  tools(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown) {
    return this.callableTools.execute(gateway, parseInput(callableToolsSchema, body));
  }

  /** What-if against the active policy set: the verdict and the determining policies, without side effects. */
  @Post('simulate')
  @GatewayAuth(ADMIN_SCOPE)
  @HttpCode(200)
  @ApiOperation({ summary: 'What-if: the verdict and determining policies for a call, with no side effects' })
  @ApiGatewayAuth(ADMIN_SCOPE)
  @ApiJsonBody('AuthorizeRequest', authorizeSchema)
  @ApiSuccess(200, 'The verdict the active policy set would give')
  simulate(@CurrentPrincipal() admin: GatewayPrincipal, @Body() body: unknown) {
    return this.authorize.simulate(admin.tenantId, parseInput(authorizeSchema, body, cibaCodeForField));
  }
}
