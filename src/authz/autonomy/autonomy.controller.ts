import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { parseInput, text } from '../../common/validation';
import { GraduatedAutonomy } from './autonomy.service';

const kindSchema = z.strictObject({
  agent_class: text(256),
  server: text(256),
  tool: text(256),
  resource_classification: text(64),
});

const kindOf = (q: z.output<typeof kindSchema>) => ({ agentClass: q.agent_class, server: q.server, tool: q.tool, classification: q.resource_classification });

/** Graduated autonomy for a tenant's admins: the streak policies read for one kind of call, and its reset. */
@ApiTags('graduated autonomy')
@Controller('v1/autonomy')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class AutonomyController {
  constructor(private readonly autonomy: GraduatedAutonomy) {}

  @Get()
  @ApiOperation({ summary: 'The history of human decisions on one kind of call (agent class, tool, classification), as policies read it in context.autonomy' })
  @ApiZodQuery(kindSchema)
  @ApiErrors(400)
  @ApiSuccess(
    200,
    '`{agent_class, server, tool, resource_classification, autonomy, streak_since, last_denial_at, last_flag_at, policy_activated_at, reset_at, reset_by}`',
  )
  show(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    return this.autonomy.view(admin.tenantId, kindOf(parseInput(kindSchema, query)));
  }

  @Post('reset')
  @HttpCode(200)
  @ApiOperation({ summary: 'Restart the streak of one kind of call (the history stays); audited as autonomy.reset' })
  @ApiJsonBody('ResetAutonomyRequest', kindSchema)
  @ApiErrors(400)
  @ApiSuccess(200, 'The kind of call as policies now read it')
  reset(@CurrentPrincipal() admin: GatewayPrincipal, @Body() body: unknown) {
    return this.autonomy.reset(admin.tenantId, kindOf(parseInput(kindSchema, body)), `admin:${admin.gatewayId}`);
  }
}
