import { EntityManager, ObjectLiteral } from 'typeorm';
import type { EntitySelect } from '../common/database/select-entities';
import type { IssuedApprovalToken } from './approval-tokens.service';

/**
 * A protocol facade over the lifecycle (another part, above this one) parks requests for its
 * own clients and keeps what it knows about them in its own tables. The lifecycle only asks
 * through this port: who the client is (only it may redeem) and what its token response is.
 */
export interface FacadeClient {
  clientId: string;
}

/** A token response in the facade's own shape; `expires_in` is audited. */
export interface FacadeTokenResponse {
  expires_in: number;
  [member: string]: unknown;
}

/** What a facade may know of the request it parked (no entity crosses the boundary). */
export interface FacadeRequest {
  id: string;
  tenantId: string;
  delegatorId: string;
  decidedAt: Date | null;
}

/** The first approving vote, when there is one. */
export interface FacadeApproval {
  approverId: string;
  approvedAt: Date;
}

/** The facade's own rows for a request, as `clientRead` reads them. */
export type FacadeRows = ObjectLiteral[];

export abstract class ApprovalFacade {
  /** The facade's own rows for a request (none when a gateway parked it directly): `clientRead` read now. */
  abstract rowsOf(manager: EntityManager, request: Pick<FacadeRequest, 'id' | 'tenantId'>): Promise<ObjectLiteral[]>;
  /** The read of the facade's rows for a request, to make with the request's lock (one round trip for both). */
  abstract clientRead(request: Pick<FacadeRequest, 'id' | 'tenantId'>): EntitySelect<ObjectLiteral>;
  /** The client that parked the request through the facade, from its rows; undefined when a gateway parked it directly. */
  abstract clientIn(rows: ObjectLiteral[]): FacadeClient | undefined;
  /** The response that hands the facade's client the approval token, which `issue` signs with the claims the facade adds (`rows`: the request's, as read). */
  abstract tokenResponse(
    rows: ObjectLiteral[],
    request: FacadeRequest,
    approval: FacadeApproval | undefined,
    issue: (claims: Record<string, unknown>) => Promise<IssuedApprovalToken>,
  ): Promise<FacadeTokenResponse>;
}

/** What a facade adds to the park statement: its own rows (committed with the request), the actor and audit data. */
export interface ParkFacade {
  /** Who parked it, for the audit trail (e.g. `client:<id>`). */
  actor: string;
  /** Added to the approval.created event's data. */
  auditData: Record<string, unknown>;
  /** `name AS (…)` common table expressions, parameters numbered from the offset given. */
  statement(approvalId: string, paramOffset: number): { ctes: string[]; params: unknown[] };
}

/** The first approving vote, as the facade sees it (its ID token is about that human). */
export function firstApproval(votes: { decision: string; approverId: string; createdAt: Date }[]): FacadeApproval | undefined {
  const vote = votes.find((v) => v.decision === 'approve');
  return vote && { approverId: vote.approverId, approvedAt: vote.createdAt };
}
