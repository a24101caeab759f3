import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { InvalidRequest } from '../../common/errors/protocol-errors';
import { keysetPageQuery, parseInput } from '../../common/validation';
import { ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { ApproverDirectory, approverView } from './approver-directory.service';
import { ApproverPasskeys } from './approver-passkeys.service';
import { APPROVER_ID, approverInputSchema, GROUP_NAME, groupInputSchema } from './directory.commands';

function checkId(value: string, pattern: RegExp, field: string): string {
  if (!pattern.test(value)) throw InvalidRequest.forFields([{ field, message: `must match ${pattern.source}` }]);
  return value;
}

const PASSKEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const actorOf = (admin: GatewayPrincipal) => `admin:${admin.gatewayId}`;

/** The approver directory's admin API (scope countersign:admin), scoped to the caller's tenant. */
@ApiTags('approver directory')
@Controller('v1')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class ApproversController {
  constructor(
    private readonly directory: ApproverDirectory,
    private readonly passkeys: ApproverPasskeys,
  ) {}

  @Put('approvers/:id')
  @ApiOperation({
    summary: 'Create or replace an approver',
    description:
      'A person of the directory: an approver and, as a delegating human, the one their agents act for. `status` "disabled" denies every call on their behalf (`human_disabled`), refuses new delegations for them and refuses their votes; absent, the status is unchanged ("active" for a new person). `attributes` (department, cost centre, …: names `[a-z][a-z0-9_]*`, string values) are the User entity\'s tags in policies (`context.user.getTag("department")`); absent, unchanged; `{}` clears them.',
  })
  @ApiJsonBody('ApproverInput', approverInputSchema)
  @ApiSuccess(200, 'Replaced: the approver')
  @ApiSuccess(201, 'Created: the approver')
  async putApprover(
    @CurrentPrincipal() admin: GatewayPrincipal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = parseInput(approverInputSchema, body);
    const { approver, created } = await this.directory.putApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id'), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return approverView(approver);
  }

  @Get('approvers')
  @ApiOperation({ summary: 'List approvers, by id, a page at a time' })
  @ApiZodQuery(keysetPageQuery)
  @ApiSuccess(200, '`{approvers, next_after}` (next_after is null on the last page)')
  async listApprovers(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    const { after, limit } = parseInput(keysetPageQuery, query);
    const approvers = await this.directory.listApprovers(admin.tenantId, after, limit);
    return { approvers: approvers.map(approverView), next_after: approvers.length === (limit ?? 100) ? approvers[approvers.length - 1].id : null };
  }

  @Get('approvers/:id')
  @ApiOperation({ summary: 'Read an approver' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The approver')
  async getApprover(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    return approverView(await this.directory.getApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id')));
  }

  @Delete('approvers/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an approver' })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Deleted')
  async deleteApprover(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    await this.directory.deleteApprover(admin.tenantId, checkId(id, APPROVER_ID, 'id'), actorOf(admin));
  }

  @Get('approvers/:id/passkeys')
  @ApiOperation({
    summary: 'An approver\'s passkeys and their "always decide with my passkey" choice',
    description: 'Ids, names, credential ids, transports and dates: no key material.',
  })
  @ApiErrors(400, 404)
  @ApiSuccess(200, '`{passkeys: [{id, name, credential_id, transports, created_at, last_used_at}], always}`')
  listPasskeys(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    return this.passkeys.list(admin.tenantId, checkId(id, APPROVER_ID, 'id'));
  }

  @Delete('approvers/:id/passkeys')
  @HttpCode(204)
  @ApiOperation({
    summary: "Reset an approver's passkeys (a lost or compromised device)",
    description:
      'Removes every passkey of the approver, their "always decide with my passkey" choice and their open passkey challenges, without a proof from the approver. ' +
      'Their next registration is a first one again (the approver link alone). Audited as `passkey.reset_by_admin`.',
  })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Reset')
  async resetPasskeys(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    await this.passkeys.reset(admin.tenantId, checkId(id, APPROVER_ID, 'id'), actorOf(admin));
  }

  @Delete('approvers/:id/passkeys/:passkeyId')
  @HttpCode(204)
  @ApiOperation({
    summary: "Remove one of an approver's passkeys",
    description: 'Without a proof from the approver; their other passkeys and their choice stay. Audited as `passkey.removed_by_admin`.',
  })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Removed')
  async removePasskey(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string, @Param('passkeyId') passkeyId: string) {
    const approverId = checkId(id, APPROVER_ID, 'id');
    await this.passkeys.remove(admin.tenantId, approverId, checkId(passkeyId, PASSKEY_ID, 'passkeyId'), actorOf(admin));
  }

  @Put('approver-groups/:name')
  @ApiOperation({
    summary: 'Create or replace an approver group and its members',
    description:
      '`member_of` names the groups this group is in ("hr-comp" in "hr"): for policies its members are members of those too, transitively (`context.user in Group::"hr"`); absent, unchanged. Approval routing (`group:<name>`) still reaches the group\'s own members only.',
  })
  @ApiJsonBody('ApproverGroupInput', groupInputSchema)
  @ApiError(400, 'invalid_request: a member is not in the approver directory; a group in member_of does not exist, or would put the group within itself')
  @ApiSuccess(200, 'Replaced: the group')
  @ApiSuccess(201, 'Created: the group')
  async putGroup(
    @CurrentPrincipal() admin: GatewayPrincipal,
    @Param('name') name: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = parseInput(groupInputSchema, body);
    const { group, created } = await this.directory.putGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return group;
  }

  @Get('approver-groups')
  @ApiOperation({ summary: 'List approver groups' })
  @ApiSuccess(200, '`{groups}`')
  async listGroups(@CurrentPrincipal() admin: GatewayPrincipal) {
    return { groups: await this.directory.listGroups(admin.tenantId) };
  }

  @Get('approver-groups/:name')
  @ApiOperation({ summary: 'Read an approver group' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The group and its members')
  getGroup(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    return this.directory.getGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'));
  }

  @Delete('approver-groups/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an approver group' })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Deleted')
  async deleteGroup(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    await this.directory.deleteGroup(admin.tenantId, checkId(name, GROUP_NAME, 'name'), actorOf(admin));
  }
}
