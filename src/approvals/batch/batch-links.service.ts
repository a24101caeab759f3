import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APPROVER_BATCH_AUDIENCE, APPROVER_BATCH_TYP } from '../../common/auth/approver-link.verifier';
import { ApproverBatchPrincipal } from '../../common/auth/auth.decorators';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { BatchScope } from './batch-scope';

/** A batch link lives this long: long enough to read a few calls and decide, short enough that a forwarded one is soon useless. */
export const BATCH_LINK_TTL_SECONDS = 15 * 60;
export const BATCH_PAGE_PATH = '/approve/batch';

export interface MintedBatchLink {
  token: string;
  /** The batch page. */
  url: string;
  /** The API's list and votes endpoints the token authenticates (Bearer). */
  list_url: string;
  votes_url: string;
  expires_at: string;
}

/**
 * Batch links: a JWS of its own type and audience bound to (tenant, approver, agent, task or MCP
 * session), minted only for someone who already holds an approver link in that scope. It reaches
 * the approver's pending requests in the scope; each vote through it is checked like any other.
 */
@Injectable()
export class BatchLinks {
  constructor(
    private readonly keys: SigningKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async mint(tenantId: string, approverId: string, scope: BatchScope): Promise<MintedBatchLink> {
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + BATCH_LINK_TTL_SECONDS) * 1000);
    const token = await this.keys.sign(
      { tenant: tenantId, agent: scope.agentId, ...('taskId' in scope ? { task: scope.taskId } : { mcp_session: scope.mcpSessionId }) },
      { typ: APPROVER_BATCH_TYP, audience: APPROVER_BATCH_AUDIENCE, subject: approverId, expiresAt, jti: randomUUID() },
    );
    const at = (path: string) => new URL(path, this.config.PUBLIC_URL).toString();
    return {
      token,
      url: at(`${BATCH_PAGE_PATH}?link=${encodeURIComponent(token)}`),
      list_url: at('/v1/approvals/batch'),
      votes_url: at('/v1/approvals/batch/votes'),
      expires_at: expiresAt.toISOString(),
    };
  }
}

/** The scope a batch link names. */
export function scopeOfLink(p: ApproverBatchPrincipal): BatchScope {
  return p.taskId !== undefined ? { agentId: p.agentId, taskId: p.taskId } : { agentId: p.agentId, mcpSessionId: p.mcpSessionId! };
}
