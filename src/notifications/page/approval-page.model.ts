/**
 * What the approval page shows. Built by the page controller from the request, its votes and the
 * approver's link; rendered by approval-page.html.ts (pure functions, no Nest, no I/O).
 * Every string here is untrusted (it comes from the agent, the gateway or a policy) and must be
 * HTML-escaped by the renderer.
 */
import type { StandingChoiceModel } from './standing-choice';
/** One approver set and the approvals credited to it (each person counts in one set only). */
export interface ApproverSetProgress {
  approvers: string[];
  quorum: number;
  approvals: number;
}

export interface ApprovalPageModel {
  /** The CIBA auth_req_id. */
  authReqId: string;
  /** The approver viewing the page. */
  approver: { id: string; displayName: string };
  bindingMessage: string | null;
  toolCall: { server: string; tool: string; arguments: Record<string, unknown> };
  /** SHA-256 of the canonical call, hex/base64url as stored. */
  callHash: string;
  agent: { id: string; class?: string; trustLevel?: string; operator?: string; chain: string[] };
  /** The human the agent acts for. */
  delegator: { id: string; displayName?: string; delegationId?: string };
  intent: { id?: string; text?: string; category?: string };
  resource: { id?: string; type?: string; classification?: string };
  environment: string | null;
  /** Risk signals as the gateway/engine gave them (free-form JSON). */
  risk: Record<string, unknown>;
  /** The agent's stated reason for access. */
  reason: string;
  /** Votes cast so far (reasons are not shown while pending). */
  votes: { approverId: string; decision: 'approve' | 'deny'; at: string }[];
  quorum: number;
  /** Every set must reach its quorum; shown set by set when there are several. */
  approverSets?: ApproverSetProgress[];
  /** True when the obligation requires independent approvers (separation of duties). */
  independentApprovers: boolean;
  expiresAt: string;
  /** Seconds left at render time. */
  secondsLeft: number;
  /** The link token (a JWS) to post back with the form, and the form's CSRF token. */
  linkToken: string;
  csrfToken: string;
  /** Where the form posts (same origin). */
  formAction: string;
  /** For the "enable push on this device" button: the VAPID public key (base64url), or null when push is off. */
  vapidPublicKey: string | null;
  /** How far an approval may stand (the policy's offer) and what the approver may narrow within it; absent: this call only. */
  standing?: StandingChoiceModel;
  /** The approver's passkeys, whether this decision must be signed with one (and why), and their "always" choice. */
  passkeys: PagePasskeys;
  /** When this approver has other calls of the same agent and task waiting: how many (this one included) and the batch page. */
  batch?: { count: number; url: string; scope: 'task' | 'session' };
  /** CSP nonce is not used: scripts and styles are same-origin files (script-src 'self'). */
}

export interface PagePasskeys {
  /** 'policy': the policy requires a passkey-signed decision; 'approver': the approver always signs; null: optional. */
  required: 'policy' | 'approver' | null;
  registered: { id: string; name: string | null; createdAt: string }[];
  always: boolean;
}

/** The page after a vote. */
export interface DecisionResultModel {
  authReqId: string;
  bindingMessage: string | null;
  yourVote: 'approve' | 'deny';
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  votes: { approve: number; deny: number };
  quorum: number;
  approverSets?: ApproverSetProgress[];
  /** What the standing approval granted with this vote covers, when one was, and where the approver sees and revokes theirs. */
  standing?: string;
  standingPageUrl?: string;
}

/**
 * The approver's link opened again after they voted: what they decided, where the request
 * stands, and once it is settled, who decided what and why (reasons stay hidden while pending,
 * as on the approval page).
 */
export interface AlreadyDecidedModel {
  kind: 'already-decided';
  authReqId: string;
  bindingMessage: string | null;
  yourVote: { decision: 'approve' | 'deny'; reason: string; at: string };
  status: DecisionResultModel['status'];
  votes: { approve: number; deny: number };
  quorum: number;
  approverSets?: ApproverSetProgress[];
  /** Every vote with the approver's name and reason; only once the request is no longer pending. */
  decidedBy: { approverId: string; displayName: string; decision: 'approve' | 'deny'; reason: string; at: string }[] | null;
}

/** A clear error page: what went wrong in the approver's words, and nothing changed. */
export interface ErrorPageModel {
  /** HTTP status the page is served with. */
  status: number;
  title: string;
  message: string;
  /** Sent as Retry-After (a 429). */
  retryAfterSeconds?: number;
}
