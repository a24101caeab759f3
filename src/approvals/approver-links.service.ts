import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APPROVER_LINK_AUDIENCE, APPROVER_LINK_TYP } from '../common/auth/approver-link.verifier';
import { Forbidden, NotFound } from '../common/errors/protocol-errors';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApprovalRequest } from './approval-request.entity';
import { ineligibility } from '../vocabulary/approver-eligibility';

/** The approval page for one link (served by the notifications part). */
const approvalPagePath = (authReqId: string, token: string) => `/approve/${authReqId}?link=${encodeURIComponent(token)}`;

export interface MintedLink {
  token: string;
  url: string;
  decision_url: string;
  jti: string;
  expires_at: string;
}

export interface MintLinkCommand {
  tenantId: string;
  approvalId: string;
  approverId: string;
  /** The group through which the approver is eligible; the caller vouches for membership. */
  viaGroup?: string;
}

/**
 * Approver links: a JWS bound to (tenant, approver, request) that expires with the request.
 * Deciding with it is single-use per approver (one vote each). The notifications part sends
 * them; until then the `npm run link` CLI mints them.
 */
@Injectable()
export class ApproverLinks {
  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: SigningKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `url` opens the approval page; `decision_url` is the API endpoint the link authenticates (Bearer). */
  async mint(cmd: MintLinkCommand): Promise<MintedLink> {
    const request = await this.dataSource.manager.findOne(ApprovalRequest, { where: { id: cmd.approvalId, tenantId: cmd.tenantId } });
    if (!request) throw new NotFound('no such approval request');
    return this.mintFor(request, cmd.approverId, cmd.viaGroup);
  }

  /** For a caller that has the request loaded already (the notification deliveries). */
  async mintFor(request: ApprovalRequest, approverId: string, viaGroup?: string): Promise<MintedLink> {
    const problem = ineligibility(request, { approverId, viaGroup });
    if (problem) throw new Forbidden(problem);
    // JWT exp is whole seconds: round up, or the link would die up to a second before its request does.
    const expiresAt = new Date(Math.ceil(request.expiresAt.getTime() / 1000) * 1000);
    const jti = randomUUID();
    const token = await this.keys.sign(
      { tenant: request.tenantId, auth_req_id: request.id, ...(viaGroup ? { grp: viaGroup } : {}) },
      { typ: APPROVER_LINK_TYP, audience: APPROVER_LINK_AUDIENCE, subject: approverId, expiresAt, jti },
    );
    const url = new URL(approvalPagePath(request.id, token), this.config.PUBLIC_URL).toString();
    const decisionUrl = new URL(`/v1/approvals/${request.id}/decisions`, this.config.PUBLIC_URL).toString();
    return { token, url, decision_url: decisionUrl, jti, expires_at: request.expiresAt.toISOString() };
  }
}
