import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager, ObjectLiteral } from 'typeorm';
import { ApprovalFacade, FacadeApproval, FacadeClient, FacadeRequest, FacadeTokenResponse, ParkFacade } from '../../approvals/approval-facade.port';
import type { IssuedApprovalToken } from '../../approvals/approval-tokens.service';
import { insertStatement } from '../../common/database/insert-statement';
import { EntitySelect, selectEntities } from '../../common/database/select-entities';
import type { JsonObject } from '../../common/json';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { CibaRequest } from './ciba-request.entity';

/** CIBA Core §10.3.1 names the claim that ties an ID token to its request. */
export const AUTH_REQ_ID_CLAIM = 'urn:openid:params:jwt:claim:auth_req_id';

/** The CIBA token response (RFC 6749 §5.1 plus OpenID's id_token), for a request from a registered client. */
export interface OpenIdTokenResponse extends FacadeTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  id_token: string;
  scope?: string;
  authorization_details?: unknown[];
}

/** What a standard CIBA request adds to the approval it parks: who asked, for what scope and details. */
export interface OpenIdCibaRequest {
  tenantId: string;
  clientId: string;
  scope: string;
  authorizationDetails: Record<string, unknown>[];
}

/**
 * CIBA's side of the approval lifecycle (its ApprovalFacade): its requests' rows in
 * ciba_requests, written in the park's own statement, and the token response its clients get.
 */
@Injectable()
export class CibaRequests extends ApprovalFacade {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: SigningKeys,
  ) {
    super();
  }

  /** The park's hook: the ciba_requests row commits with the approval, or neither does. */
  parkFacade(ciba: OpenIdCibaRequest): ParkFacade {
    return {
      actor: `client:${ciba.clientId}`,
      auditData: { client_id: ciba.clientId, scope: ciba.scope, authorization_details: ciba.authorizationDetails },
      statement: (approvalId, paramOffset) => {
        const row: CibaRequest = {
          authReqId: approvalId,
          tenantId: ciba.tenantId,
          clientId: ciba.clientId,
          scope: ciba.scope,
          authorizationDetails: ciba.authorizationDetails as JsonObject[],
        };
        const insert = insertStatement(this.dataSource, CibaRequest, [row], paramOffset);
        return { ctes: [`ciba_request AS (${insert.sql})`], params: insert.params };
      },
    };
  }

  rowsOf(manager: EntityManager, request: Pick<FacadeRequest, 'id' | 'tenantId'>): Promise<CibaRequest[]> {
    return selectEntities(manager, CibaRequest, this.clientRead(request).where);
  }

  clientRead(request: Pick<FacadeRequest, 'id' | 'tenantId'>): EntitySelect<CibaRequest> {
    return { entity: CibaRequest, where: { authReqId: request.id, tenantId: request.tenantId } };
  }

  clientIn(rows: ObjectLiteral[]): FacadeClient | undefined {
    const [ciba] = rows as CibaRequest[];
    return ciba ? { clientId: ciba.clientId } : undefined;
  }

  /**
   * The call-bound approval token as the access token (carrying what was approved, as RFC 9396
   * §9 puts it), and an ID token about the human who approved (the first approving vote), for the client.
   */
  async tokenResponse(
    rows: ObjectLiteral[],
    request: FacadeRequest,
    approval: FacadeApproval | undefined,
    issue: (claims: Record<string, unknown>) => Promise<IssuedApprovalToken>,
  ): Promise<OpenIdTokenResponse> {
    const [ciba] = rows as CibaRequest[];
    if (!ciba) throw new Error(`no ciba_requests row for ${request.id}`);
    const approved = { authorization_details: ciba.authorizationDetails, ...(ciba.scope && { scope: ciba.scope }) };
    const issued = await issue(approved);
    const idToken = await this.keys.sign(
      {
        auth_time: Math.floor((approval?.approvedAt ?? request.decidedAt ?? new Date()).getTime() / 1000),
        at_hash: accessTokenHash(issued.token, this.keys.algorithm),
        [AUTH_REQ_ID_CLAIM]: request.id,
      },
      {
        typ: 'JWT',
        audience: ciba.clientId,
        subject: approval?.approverId ?? request.delegatorId,
        expiresAt: new Date(Date.now() + issued.expiresIn * 1000),
      },
    );
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, id_token: idToken, ...approved };
  }
}

/** OpenID Core §3.1.3.6: the left half of the token's hash, with the hash of the signing algorithm. */
function accessTokenHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : `sha${alg.slice(2)}`)
    .update(accessToken, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
