import { Injectable } from '@nestjs/common';
import { InvalidToken } from '../errors/protocol-errors';
import { SigningKeys } from '../keys/signing-keys.service';
import { ApproverBatchPrincipal, ApproverPrincipal } from './auth.decorators';
import { invalidToken } from '../errors/token-errors';
import { bearerToken } from './gateway-token.verifier';

export const APPROVER_LINK_TYP = 'countersign-approver-link+jwt';
export const APPROVER_LINK_AUDIENCE = 'countersign:approver-link';
/** Batch links are their own type and audience: neither kind of link passes for the other. */
export const APPROVER_BATCH_TYP = 'countersign-approver-batch+jwt';
export const APPROVER_BATCH_AUDIENCE = 'countersign:approver-batch';

/** Verifies an approver link: a JWS this service signed, bound to (tenant, approver, request). */
@Injectable()
export class ApproverLinkVerifier {
  constructor(private readonly keys: SigningKeys) {}

  async verify(authorization: string | undefined): Promise<ApproverPrincipal> {
    return this.verifyToken(bearerToken(authorization));
  }

  async verifyToken(token: string): Promise<ApproverPrincipal> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await this.keys.verify(token, { typ: APPROVER_LINK_TYP, audience: APPROVER_LINK_AUDIENCE }));
    } catch (e) {
      throw invalidToken(e, 'the token', 'approver link: ');
    }
    const { sub, tenant, auth_req_id, grp, jti } = payload;
    if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof auth_req_id !== 'string' || typeof jti !== 'string') {
      throw new InvalidToken('approver link: missing claims');
    }
    return {
      kind: 'approver',
      tenantId: tenant,
      approverId: sub,
      authReqId: auth_req_id,
      viaGroup: typeof grp === 'string' ? grp : undefined,
      linkId: jti,
    };
  }

  async verifyBatch(authorization: string | undefined): Promise<ApproverBatchPrincipal> {
    return this.verifyBatchToken(bearerToken(authorization));
  }

  async verifyBatchToken(token: string): Promise<ApproverBatchPrincipal> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await this.keys.verify(token, { typ: APPROVER_BATCH_TYP, audience: APPROVER_BATCH_AUDIENCE }));
    } catch (e) {
      throw invalidToken(e, 'the token', 'batch link: ');
    }
    const { sub, tenant, agent, task, mcp_session, jti } = payload;
    const scoped = (typeof task === 'string') !== (typeof mcp_session === 'string');
    if (typeof sub !== 'string' || typeof tenant !== 'string' || typeof agent !== 'string' || typeof jti !== 'string' || !scoped) {
      throw new InvalidToken('batch link: missing claims');
    }
    return {
      kind: 'approver-batch',
      tenantId: tenant,
      approverId: sub,
      agentId: agent,
      ...(typeof task === 'string' ? { taskId: task } : { mcpSessionId: mcp_session as string }),
      linkId: jti,
    };
  }
}
