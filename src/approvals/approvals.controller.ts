import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { z } from 'zod';
import {
  ApproverLinkAuth,
  ApproverPrincipal,
  CurrentPrincipal,
  GatewayAuth,
  GatewayPrincipal,
} from '../common/auth/auth.decorators';
import { InvalidGrant, NotFound } from '../common/errors/protocol-errors';
import { parseInput } from '../common/validation';
import { CancelApproval } from './cancel-approval.usecase';
import { decisionSchema, DecideApproval } from './decide.usecase';
import { GetApproval } from './get-approval.usecase';
import { cibaCodeForField, parkApprovalSchema } from './park-approval.command';
import { ParkApproval } from './park-approval.usecase';
import { RedeemApprovalToken } from './redeem-approval-token.usecase';

/** An auth_req_id as we mint them (24 random bytes, base64url); anything else cannot exist. */
const AUTH_REQ_ID = /^[A-Za-z0-9_-]{32}$/;
const waitSchema = (max: number) =>
  z.strictObject({
    wait: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int({ message: 'must be a whole number of seconds' })
      .min(0)
      .max(max, { message: `must be at most ${max} (LONG_POLL_MAX_WAIT)` })
      .optional(),
  });

@Controller('v1/approvals')
export class ApprovalsController {
  /** The long-poll's query, built once (LONG_POLL_MAX_WAIT is fixed at start-up). */
  private readonly waitSchema: ReturnType<typeof waitSchema>;

  constructor(
    private readonly park: ParkApproval,
    private readonly get: GetApproval,
    private readonly redeem: RedeemApprovalToken,
    private readonly cancel: CancelApproval,
    private readonly decide: DecideApproval,
    @Inject(APP_CONFIG) config: AppConfig,
  ){
    this.waitSchema = waitSchema(config.LONG_POLL_MAX_WAIT);
  }

  @Post()
  @GatewayAuth()
  @HttpCode(200)
  create(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown) {
    const input = parseInput(parkApprovalSchema, body, cibaCodeForField);
    return this.park.execute({ tenantId: gateway.tenantId, gatewayId: gateway.gatewayId, input });
  }

  @Get(':id')
  @GatewayAuth()
  status(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string, @Query() query: unknown) {
    const { wait } = parseInput(this.waitSchema, query);
    return this.get.execute({ tenantId: gateway.tenantId, approvalId: knownId(id), waitSeconds: wait });
  }

  @Post(':id/token')
  @GatewayAuth()
  @HttpCode(200)
  token(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string) {
    if (!AUTH_REQ_ID.test(id)) throw new InvalidGrant('unknown auth_req_id');
    return this.redeem.execute({ tenantId: gateway.tenantId, approvalId: id });
  }

  @Delete(':id')
  @GatewayAuth()
  remove(@CurrentPrincipal() gateway: GatewayPrincipal, @Param('id') id: string) {
    return this.cancel.execute({ tenantId: gateway.tenantId, approvalId: knownId(id), gatewayId: gateway.gatewayId });
  }

  @Post(':id/decisions')
  @ApproverLinkAuth()
  @HttpCode(200)
  vote(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string, @Body() body: unknown) {
    const { decision, reason } = parseInput(decisionSchema, body);
    return this.decide.execute({ approver, approvalId: knownId(id), decision, reason });
  }
}

function knownId(id: string): string {
  if (!AUTH_REQ_ID.test(id)) throw new NotFound('no such approval request');
  return id;
}
