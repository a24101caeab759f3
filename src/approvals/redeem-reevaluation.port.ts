import type { ApprovalRequest } from './approval-request.entity';

/** The settled_reason of an approved request that the redeem's re-evaluation denied. */
export const REEVALUATION_DENIED = 'reevaluation_denied';

/**
 * What a redeem's re-evaluation found. `scope` says what could be repeated: the policy decision
 * that parked the call (`policy`), only the delegation the gateway named (`delegation`), only the
 * delegating human's standing (`human`: a call parked directly for someone since disabled), or
 * nothing (`none`: a call parked directly that names no delegation).
 */
export interface Reevaluation {
  verdict: 'allow' | 'deny';
  /** The reason codes of the repeated decision (a deny's say why; an allow's which permits). */
  reasons: string[];
  scope: 'policy' | 'delegation' | 'human' | 'none';
  /** The policy set version that decided (scope `policy`). */
  policy_version?: number;
  determining_policies?: string[];
  /** The instant the call was judged at: the service's clock at redeem (ISO 8601). */
  decided_at: string;
  /** Anything else the audit should keep (the clock, the facts that changed). */
  detail?: Record<string, object | string | number | boolean | null>;
}

/**
 * A parked call is not a blank cheque: before its approval token is handed out (token endpoint,
 * CIBA token endpoint, push callback), whoever decided it may be asked whether it still stands,
 * with the approval counted as given. The lifecycle knows no policies; the authorization part
 * provides this (src/authz/redeem-reevaluation.service.ts). It must not throw for a call that is
 * merely no longer allowed: that is a `deny` with reasons.
 */
export abstract class RedeemReevaluation {
  abstract reevaluate(request: ApprovalRequest): Promise<Reevaluation>;
}
