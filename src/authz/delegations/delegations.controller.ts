import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { parseInput } from '../../common/validation';
import { delegationView } from './delegation.entity';
import { Delegations } from './delegations.service';
import { grantDelegationSchema, listDelegationsSchema } from './grant-delegation.command';

export const DELEGATIONS_SCOPE = 'countersign:delegations';

/** Grant, list and revoke delegations. Callers are the tenant's identity system or admin tooling. */
@Controller('v1/delegations')
@GatewayAuth(DELEGATIONS_SCOPE)
export class DelegationsController {
  constructor(private readonly delegations: Delegations) {}

  @Post()
  async grant(@CurrentPrincipal() caller: GatewayPrincipal, @Body() body: unknown) {
    const input = parseInput(grantDelegationSchema, body);
    return delegationView(await this.delegations.grant(caller.tenantId, `gateway:${caller.gatewayId}`, input));
  }

  @Get()
  async list(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown) {
    const filter = parseInput(listDelegationsSchema, query);
    const rows = await this.delegations.list(caller.tenantId, { ...filter, includeRevoked: filter.include_revoked === 'true' });
    return { delegations: rows.map(delegationView) };
  }

  @Delete(':id')
  revoke(@CurrentPrincipal() caller: GatewayPrincipal, @Param('id') id: string) {
    return this.delegations.revoke(caller.tenantId, id, `gateway:${caller.gatewayId}`);
  }
}
