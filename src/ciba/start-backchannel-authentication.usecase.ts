import { Injectable } from '@nestjs/common';
import { decodeJwt, errors as joseErrors } from 'jose';
import { parkApprovalSchema } from '../approvals/park-approval.command';
import { ParkApproval, ParkedApproval } from '../approvals/park-approval.usecase';
import { ExpiredLoginHintToken, InvalidRequest, UnknownUserId, UnmetObligation } from '../common/errors/protocol-errors';
import { tokenProblem } from '../common/errors/token-errors';
import { parseInput } from '../common/validation';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { BackchannelRequest, Hint } from './backchannel-request';
import { CibaClient } from './clients/ciba-client.entity';
import { ClientKeys } from './clients/client-keys';
import { CibaRequests } from './requests/ciba-requests';

/** A directory reference: "user:<id>" or "group:<name>"; a bare login_hint is a person's id. */
const APPROVER = /^(user|group):.+$/;

export interface BackchannelAuthenticationResponse {
  auth_req_id: string;
  expires_in: number;
  interval?: number;
}

/**
 * A registered client asks for a human's OK over the standard CIBA endpoint: the hint names
 * the approver, the "tool_call" authorization detail is the call. It parks the call in the
 * same lifecycle as the gateway API (same row, notifications, audit and tokens).
 */
@Injectable()
export class StartBackchannelAuthentication {
  constructor(
    private readonly park: ParkApproval,
    private readonly keys: SigningKeys,
    private readonly clientKeys: ClientKeys,
    private readonly requests: CibaRequests,
  ) {}

  async execute(client: CibaClient, request: BackchannelRequest): Promise<BackchannelAuthenticationResponse> {
    const approver = await this.approverOf(client, request.hint);
    const call = request.toolCall;
    // Validated again as a park request: a hint's subject (from a token) is checked like any approver id.
    const input = parseInput(parkApprovalSchema, {
      tool_call: { server: call.server, tool: call.tool, arguments: call.arguments },
      agent: call.agent ?? { id: client.clientId },
      // The human the agent acts for is the one asked; a group is asked on the client's behalf.
      delegator: { id: approver.startsWith('user:') ? approver.slice('user:'.length) : client.clientId },
      intent: call.intent,
      resource: call.resource,
      environment: call.environment,
      reason: call.reason,
      risk: call.risk,
      obligation: {
        approvers: [approver],
        expires_in: request.requestedExpiry,
        binding_message: request.bindingMessage,
      },
      delivery:
        client.backchannelTokenDeliveryMode === 'poll'
          ? { mode: 'poll' }
          : {
              mode: client.backchannelTokenDeliveryMode,
              notification_endpoint: client.backchannelClientNotificationEndpoint ?? undefined,
              notification_token: request.clientNotificationToken,
            },
      correlation: call.correlation,
    });

    let parked: ParkedApproval;
    try {
      parked = await this.park.execute({
        tenantId: client.tenantId,
        gatewayId: client.clientId,
        input,
        facade: this.requests.parkFacade({
          tenantId: client.tenantId,
          clientId: client.clientId,
          scope: request.scope,
          authorizationDetails: request.authorizationDetails,
        }),
      });
    } catch (e) {
      // Unknown or empty: the hint names nobody who can approve (CIBA Core §13).
      if (e instanceof UnmetObligation && String(e.extra.field).startsWith('obligation.approvers')) {
        throw new UnknownUserId(`${request.hint.kind} does not name a known approver`);
      }
      throw e;
    }
    // Push clients never poll, so they get no interval (CIBA Core §7.3).
    return client.backchannelTokenDeliveryMode === 'push' ? { auth_req_id: parked.auth_req_id, expires_in: parked.expires_in } : parked;
  }

  /** The directory reference the hint names (CIBA Core §7.1). */
  private async approverOf(client: CibaClient, hint: Hint): Promise<string> {
    switch (hint.kind) {
      case 'login_hint':
        return APPROVER.test(hint.value) ? hint.value : `user:${hint.value}`;
      case 'id_token_hint':
        return `user:${await this.subjectOfIdToken(client, hint.value)}`;
      case 'login_hint_token':
        return `user:${await this.subjectOfLoginHintToken(client, hint.value)}`;
    }
  }

  /** An ID token this service issued to this client; an expired one still says who it was about. */
  private async subjectOfIdToken(client: CibaClient, token: string): Promise<string> {
    try {
      const { iat } = decodeJwt(token);
      const issuedAt = typeof iat === 'number' ? new Date(iat * 1000) : undefined;
      const { payload } = await this.keys.verify(token, { typ: 'JWT', audience: client.clientId, currentDate: issuedAt });
      if (!payload.sub) throw new Error('no sub');
      return payload.sub;
    } catch {
      throw InvalidRequest.forFields([{ field: 'id_token_hint', message: 'is not an ID token this server issued to this client' }]);
    }
  }

  /**
   * A JWT the client signs with its registered keys, naming the user by `sub` or by an RFC 9493
   * `sub_id` of format "opaque".
   */
  private async subjectOfLoginHintToken(client: CibaClient, token: string): Promise<string> {
    let payload: Record<string, unknown>;
    try {
      payload = await this.clientKeys.verify(client, token, { audience: this.keys.issuer });
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new ExpiredLoginHintToken('login_hint_token has expired');
      throw InvalidRequest.forFields([
        { field: 'login_hint_token', message: `is not a valid JWT signed with the client's registered keys (${tokenProblem(e)})` },
      ]);
    }
    const subId = payload.sub_id as { format?: unknown; id?: unknown } | undefined;
    const subject = subId?.format === 'opaque' && typeof subId.id === 'string' ? subId.id : payload.sub;
    if (typeof subject !== 'string' || !subject) {
      throw InvalidRequest.forFields([{ field: 'login_hint_token', message: 'must carry "sub" or a "sub_id" of format "opaque"' }]);
    }
    return subject;
  }
}
