import { Controller, Delete, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ADMIN_SCOPE, ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { NotFound } from '../../common/errors/protocol-errors';
import { id } from '../../common/validation';
import { parseInput } from '../../common/validation';
import { ApiApproverLinkAuth, ApiErrors, ApiGatewayAuth, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { StandingApprovals } from './standing-approvals.service';

const listSchema = z.strictObject({
  agent: id.optional(),
  approver: id.optional(),
  include_ended: z.enum(['true', 'false']).optional(),
});
const mineSchema = listSchema.omit({ approver: true });

const STANDING_ID = /^sta_[0-9a-f-]{36}$/;
const knownId = (value: string) => {
  if (!STANDING_ID.test(value)) throw new NotFound('no such standing approval');
  return value;
};

/**
 * Listing and revoking standing approvals: a tenant's admin sees and ends all of the tenant's; an
 * approver, through one of their approver links, those their own votes granted.
 */
@ApiTags('standing approvals')
@Controller('v1/standing-approvals')
export class StandingApprovalsController {
  constructor(private readonly standing: StandingApprovals) {}

  @Get()
  @GatewayAuth(ADMIN_SCOPE)
  @ApiOperation({ summary: "List the tenant's standing approvals (live ones unless include_ended=true)" })
  @ApiGatewayAuth(ADMIN_SCOPE)
  @ApiZodQuery(listSchema, { approver: 'Only those this approver granted', agent: 'Only those for this agent' })
  @ApiSuccess(200, '`{standing_approvals}`')
  async list(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    const q = parseInput(listSchema, query);
    return {
      standing_approvals: await this.standing.list(admin.tenantId, { grantedBy: q.approver, agent: q.agent, includeEnded: q.include_ended === 'true' }),
    };
  }

  @Delete(':id')
  @GatewayAuth(ADMIN_SCOPE)
  @ApiOperation({ summary: 'Revoke a standing approval: later calls need a new approval, on every instance at once' })
  @ApiGatewayAuth(ADMIN_SCOPE)
  @ApiErrors(404)
  @ApiSuccess(200, 'The standing approval, revoked')
  revoke(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    return this.standing.revoke(admin.tenantId, knownId(id), `gateway:${admin.gatewayId}`);
  }

  @Get('mine')
  @ApproverLinkAuth()
  @ApiOperation({ summary: "The standing approvals the link's approver granted" })
  @ApiApproverLinkAuth()
  @ApiZodQuery(mineSchema)
  @ApiSuccess(200, '`{standing_approvals}`')
  async mine(@CurrentPrincipal() approver: ApproverPrincipal, @Query() query: unknown) {
    const q = parseInput(mineSchema, query);
    return {
      standing_approvals: await this.standing.list(approver.tenantId, {
        grantedBy: approver.approverId,
        agent: q.agent,
        includeEnded: q.include_ended === 'true',
      }),
    };
  }

  @Delete('mine/:id')
  @ApproverLinkAuth()
  @ApiOperation({ summary: "Revoke a standing approval the link's approver granted" })
  @ApiApproverLinkAuth()
  @ApiErrors(404)
  @ApiSuccess(200, 'The standing approval, revoked')
  revokeMine(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string) {
    return this.standing.revoke(approver.tenantId, knownId(id), `approver:${approver.approverId}`, approver.approverId);
  }
}
