import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApproverLinkAuth, ApproverPrincipal, CurrentPrincipal, Public } from '../../common/auth/auth.decorators';
import { InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { parseInput } from '../../common/validation';
import { ApiApproverLinkAuth, ApiError, ApiErrors, ApiJsonBody, ApiPublic, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { ApproverDirectory } from '../directory/approver-directory.service';
import { PushChannel } from './push.channel';
import { PushEndpointPolicy } from './push-endpoint.policy';
import { subscriptionSchema } from './push-subscription.command';
import { PushSubscriptions } from './push-subscriptions.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Approvers enable push on a device from the approval page: the page's link authenticates them,
 * so a subscription always belongs to the approver the link was sent to.
 */
@ApiTags('push')
@Controller()
export class PushSubscriptionsController {
  constructor(
    private readonly subscriptions: PushSubscriptions,
    private readonly directory: ApproverDirectory,
    private readonly push: PushChannel,
    private readonly endpoints: PushEndpointPolicy,
  ) {}

  /** The VAPID public key browsers need to subscribe (public by design). */
  @Get('v1/push/vapid-public-key')
  @Public()
  @ApiOperation({ summary: 'The VAPID public key browsers subscribe with (public, no credential)' })
  @ApiPublic()
  @ApiError(404, 'not_found: web push is not configured on this service')
  @ApiSuccess(200, '`{public_key}`')
  vapidPublicKey() {
    if (!this.push.publicKey) throw new NotFound('web push is not configured on this service');
    return { public_key: this.push.publicKey };
  }

  @Post('v1/push-subscriptions')
  @ApproverLinkAuth()
  @HttpCode(201)
  @ApiOperation({ summary: "Subscribe one of the approver's browsers to push notifications" })
  @ApiApproverLinkAuth()
  @ApiJsonBody('PushSubscription', subscriptionSchema)
  @ApiHeader({ name: 'user-agent', required: false, description: 'Kept with the subscription, so that the approver can tell devices apart' })
  @ApiError(404, 'not_found: the approver is no longer in the directory')
  @ApiSuccess(201, '`{id, approver_id, created_at}`')
  async subscribe(@CurrentPrincipal() approver: ApproverPrincipal, @Body() body: unknown, @Headers('user-agent') userAgent?: string) {
    const input = parseInput(subscriptionSchema, body);
    const problem = this.endpoints.problemWith(input.endpoint);
    if (problem) throw InvalidRequest.forFields([{ field: 'endpoint', message: problem }]);
    await this.directory.getApprover(approver.tenantId, approver.approverId);
    const saved = await this.subscriptions.subscribe(approver.tenantId, approver.approverId, input, userAgent ?? null);
    return { id: saved.id, approver_id: saved.approverId, created_at: saved.createdAt.toISOString() };
  }

  @Delete('v1/push-subscriptions/:id')
  @ApproverLinkAuth()
  @HttpCode(204)
  @ApiOperation({ summary: "Remove one of the approver's push subscriptions" })
  @ApiApproverLinkAuth()
  @ApiErrors(404)
  @ApiSuccess(204, 'Removed')
  async unsubscribe(@CurrentPrincipal() approver: ApproverPrincipal, @Param('id') id: string) {
    if (!UUID.test(id)) throw new NotFound('no such push subscription');
    await this.subscriptions.unsubscribe(approver.tenantId, approver.approverId, id);
  }
}
