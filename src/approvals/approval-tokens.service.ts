import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalVote } from './approval-vote.entity';

export const APPROVAL_TOKEN_TYP = 'countersign-approval+jwt';

export interface IssuedApprovalToken {
  token: string;
  jti: string;
  expiresIn: number;
}

/**
 * The resume credential: a short-lived JWS bound to the exact call (call_hash) that the gateway
 * verifies against /.well-known/jwks.json before it forwards the parked call.
 */
@Injectable()
export class ApprovalTokens {
  constructor(
    private readonly keys: SigningKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `claims` are what a facade adds for its client (its own request's details); the call-bound claims always win. */
  async issue(request: ApprovalRequest, votes: ApprovalVote[], jti: string = randomUUID(), claims: Record<string, unknown> = {}): Promise<IssuedApprovalToken> {
    const expiresIn = this.config.APPROVAL_TOKEN_TTL;
    const token = await this.keys.sign(
      {
        ...claims,
        tenant: request.tenantId,
        auth_req_id: request.id,
        act: actorChain(request),
        call_hash: request.callHash,
        call: { server: request.toolCall.server, tool: request.toolCall.tool },
        approvals: votes
          .filter((v) => v.decision === 'approve')
          .map((v) => ({ approver: v.approverId, reason: v.reason, approved_at: Math.floor(v.createdAt.getTime() / 1000) })),
      },
      {
        typ: APPROVAL_TOKEN_TYP,
        audience: request.gatewayId,
        subject: request.delegatorId,
        expiresAt: new Date(Date.now() + expiresIn * 1000),
        jti,
      },
    );
    return { token, jti, expiresIn };
  }
}

/** RFC 8693 `act`: the current agent outermost, then the chain it was given in its own token. */
function actorChain(request: ApprovalRequest): Record<string, unknown> {
  const inner = request.agent.claims?.act;
  return inner && typeof inner === 'object' ? { sub: request.agentId, act: inner } : { sub: request.agentId };
}
