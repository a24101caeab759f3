import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { parseInput } from '../../common/validation';
import { ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { delegationView } from './delegation.entity';
import { Delegations } from './delegations.service';
import { grantDelegationSchema, listDelegationsSchema } from './grant-delegation.command';

export const DELEGATIONS_SCOPE = 'countersign:delegations';

/** Grant, list and revoke delegations. Callers are the tenant's identity system or admin tooling. */
@ApiTags('delegations')
@Controller('v1/delegations')
@GatewayAuth(DELEGATIONS_SCOPE)
@ApiGatewayAuth(DELEGATIONS_SCOPE)
export class DelegationsController {
  constructor(private readonly delegations: Delegations) {}

  @Post()
  @ApiOperation({ summary: 'Grant a delegation (or a narrower sub-delegation of a parent)' })
  @ApiJsonBody('GrantDelegationRequest', grantDelegationSchema)
  @ApiSuccess(201, 'The delegation')
  async grant(@CurrentPrincipal() caller: GatewayPrincipal, @Body() body: unknown) {
    const input = parseInput(grantDelegationSchema, body);
    return delegationView(await this.delegations.grant(caller.tenantId, `gateway:${caller.gatewayId}`, input));
  }

  @Get()
  @ApiOperation({ summary: "List the tenant's delegations" })
  @ApiZodQuery(listDelegationsSchema)
  @ApiSuccess(200, '`{delegations}`')
  async list(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown) {
    const filter = parseInput(listDelegationsSchema, query);
    const rows = await this.delegations.list(caller.tenantId, { ...filter, includeRevoked: filter.include_revoked === 'true' });
    return { delegations: rows.map(delegationView) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke a delegation, its sub-delegations, and the approval requests parked under them' })
  @ApiErrors(404)
  @ApiSuccess(200, '`{revoked, rejected_approvals}`')
  revoke(@CurrentPrincipal() caller: GatewayPrincipal, @Param('id') id: string) {
    return this.delegations.revoke(caller.tenantId, id, `gateway:${caller.gatewayId}`);
  }
}
