/**
 * The vocabulary of the authorization context envelope that several parts share: the value lists
 * a field may take and the limits on its size. Plain constants with no imports, so that the
 * policy engine, approvals, CIBA and the directory can all use them without importing each other.
 */

export const INTENT_CATEGORIES = ['read', 'search', 'summarize', 'export', 'write', 'delete', 'pay', 'admin', 'other'] as const;
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted', 'pii'] as const;
export const ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
export const TRUST_LEVELS = ['first_party_certified', 'first_party', 'third_party', 'unknown'] as const;

/** How an approver is named in an obligation: one person, a directory group, or the delegating human. */
export const APPROVER_REF = /^(user:.+|group:.+|delegator)$/;

/** RFC 8693 delegation chains are a few actors long; a bounded schema cannot overflow the stack. */
export const MAX_ACT_DEPTH = 16;

/** How the gateway learns of a decision (CIBA's token delivery modes). */
export const DELIVERY_MODES = ['poll', 'ping', 'push'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** An auth_req_id as ParkApproval mints them (24 random bytes, base64url); anything else cannot exist. */
export const AUTH_REQ_ID = /^[A-Za-z0-9_-]{32}$/;
