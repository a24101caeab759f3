import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
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

/** The CIBA token response (RFC 6749 §5.1 plus OpenID's id_token), for a request from a registered client. */
export interface OpenIdTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  id_token: string;
  scope?: string;
  authorization_details?: unknown[];
}

/** CIBA Core §10.3.1 names the claim that ties an ID token to its request. */
export const AUTH_REQ_ID_CLAIM = 'urn:openid:params:jwt:claim:auth_req_id';

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

  async issue(request: ApprovalRequest, votes: ApprovalVote[], jti: string = randomUUID()): Promise<IssuedApprovalToken> {
    const expiresIn = this.config.APPROVAL_TOKEN_TTL;
    const token = await this.keys.sign(
      {
        tenant: request.tenantId,
        auth_req_id: request.id,
        act: actorChain(request),
        call_hash: request.callHash,
        call: { server: request.toolCall.server, tool: request.toolCall.tool },
        approvals: votes
          .filter((v) => v.decision === 'approve')
          .map((v) => ({ approver: v.approverId, reason: v.reason, approved_at: Math.floor(v.createdAt.getTime() / 1000) })),
        // A standard CIBA client gets what was approved back, as RFC 9396 §9 puts it in the token.
        ...(request.authorizationDetails && { authorization_details: request.authorizationDetails }),
        ...(request.scope && { scope: request.scope }),
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

  /**
   * The token response for a standard CIBA client: the call-bound approval token as the access
   * token, and an ID token about the human who approved (the first approving vote), for the client.
   */
  async openIdResponse(request: ApprovalRequest, votes: ApprovalVote[], jti: string): Promise<OpenIdTokenResponse> {
    const issued = await this.issue(request, votes, jti);
    const approval = votes.find((v) => v.decision === 'approve');
    const idToken = await this.keys.sign(
      {
        auth_time: Math.floor((approval?.createdAt ?? request.decidedAt ?? new Date()).getTime() / 1000),
        at_hash: accessTokenHash(issued.token, this.keys.algorithm),
        [AUTH_REQ_ID_CLAIM]: request.id,
      },
      {
        typ: 'JWT',
        audience: request.cibaClientId ?? request.gatewayId,
        subject: approval?.approverId ?? request.delegatorId,
        expiresAt: new Date(Date.now() + issued.expiresIn * 1000),
      },
    );
    return {
      access_token: issued.token,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      id_token: idToken,
      ...(request.scope && { scope: request.scope }),
      ...(request.authorizationDetails && { authorization_details: request.authorizationDetails }),
    };
  }
}

/** OpenID Core §3.1.3.6: the left half of the token's hash, with the hash of the signing algorithm. */
function accessTokenHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** RFC 8693 `act`: the current agent outermost, then the chain it was given in its own token. */
function actorChain(request: ApprovalRequest): Record<string, unknown> {
  const inner = request.agent.claims?.act;
  return inner && typeof inner === 'object' ? { sub: request.agentId, act: inner } : { sub: request.agentId };
}
