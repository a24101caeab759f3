import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { ApiResponse, call, parkBody } from './api';
import { TestApp } from './app';

/**
 * Parks a request the way a gateway does (POST /v1/approvals), expects 200 and returns its auth_req_id.
 * The body is sent as given: build it with `parkBody()` and adjust it first.
 */
export async function parkApproval(app: TestApp, token: string, body: Record<string, any> = parkBody()): Promise<string> {
  const res = await call(app.url, 'POST', '/v1/approvals', { token, body });
  expect(res.status).toBe(200);
  return res.body.auth_req_id;
}

export interface VoteOptions {
  /** Defaults to 'acme'. */
  tenantId?: string;
  approvalId: string;
  approverId: string;
  decision: 'approve' | 'deny';
  reason?: string;
  viaGroup?: string;
}

/**
 * Votes as an approver through a freshly minted approver link (POST /v1/approvals/:id/decisions on `app`)
 * and returns the response as it is: the caller asserts what it expects.
 */
export async function voteAs(app: TestApp, opts: VoteOptions): Promise<ApiResponse> {
  const { tenantId = 'acme', approvalId, approverId, decision, reason, viaGroup } = opts;
  const { token } = await app.app.get(ApproverLinks).mint({ tenantId, approvalId, approverId, viaGroup });
  return call(app.url, 'POST', `/v1/approvals/${approvalId}/decisions`, { token, body: { decision, reason } });
}
