import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { InvalidRequest } from '../../common/errors/protocol-errors';
import { parseInput } from '../../common/validation';
import { ApproverDirectory, approverView } from './approver-directory.service';
import { APPROVER_ID, approverInputSchema, GROUP_NAME, groupInputSchema, listQuerySchema } from './directory.commands';

function checkId(value: string, pattern: RegExp, field: string): string {
  if (!pattern.test(value)) throw InvalidRequest.forFields([{ field, message: `must match ${pattern.source}` }]);
  return value;
}

const actorOf = (admin: GatewayPrincipal) => `admin:${admin.gatewayId}`;

/** The approver directory's admin API (scope countersign:admin), scoped to the caller's tenant. */
@Controller('v1')
@GatewayAuth(ADMIN_SCOPE)
export class ApproversController {
  constructor(private readonly directory: ApproverDirectory) {}

  @Put('approvers/:id')
  async putApprover(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseInput(approverInputSchema, body);
    const { approver, created } = await this.directory.putApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id'), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return approverView(approver);
  }

  @Get('approvers')
  async listApprovers(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    const { after, limit } = parseInput(listQuerySchema, query);
    const approvers = await this.directory.listApprovers(admin.tenantId, after, limit);
    return { approvers: approvers.map(approverView), next_after: approvers.length === (limit ?? 100) ? approvers[approvers.length - 1].id : null };
  }

  @Get('approvers/:id')
  async getApprover(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    return approverView(await this.directory.getApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id')));
  }

  @Delete('approvers/:id')
  @HttpCode(204)
  async deleteApprover(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    await this.directory.deleteApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id'), actorOf(admin));
  }

  @Put('approver-groups/:name')
  async putGroup(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseInput(groupInputSchema, body);
    const { group, created } = await this.directory.putGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return group;
  }

  @Get('approver-groups')
  async listGroups(@CurrentPrincipal() admin: GatewayPrincipal) {
    return { groups: await this.directory.listGroups(admin.tenantId) };
  }

  @Get('approver-groups/:name')
  getGroup(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    return this.directory.getGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'));
  }

  @Delete('approver-groups/:name')
  @HttpCode(204)
  async deleteGroup(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    await this.directory.deleteGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'), actorOf(admin));
  }
}
