import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';

/** Which credential a route takes. A route without one is refused (fail closed). */
export type AuthKind = 'public' | 'gateway' | 'approver-link' | 'approver-batch' | 'operator';
export const AUTH_KIND = 'countersign:auth-kind';

export const Public = () => SetMetadata(AUTH_KIND, 'public' satisfies AuthKind);
export const REQUIRED_SCOPE = 'countersign:required-scope';
/** A gateway's bearer JWT; with `scope`, the token must also carry that OAuth scope (e.g. countersign:admin). */
export const GatewayAuth = (scope?: string) =>
  applyDecorators(SetMetadata(AUTH_KIND, 'gateway' satisfies AuthKind), ...(scope ? [SetMetadata(REQUIRED_SCOPE, scope)] : []));
export const ADMIN_SCOPE = 'countersign:admin';
export const ApproverLinkAuth = () => SetMetadata(AUTH_KIND, 'approver-link' satisfies AuthKind);
/** A batch link: one approver's pending requests from one agent for one task (or MCP session). */
export const ApproverBatchAuth = () => SetMetadata(AUTH_KIND, 'approver-batch' satisfies AuthKind);
/**
 * Operating the service (metrics, the queue dashboard) is a platform role, not a tenant's: the
 * data is every tenant's. A gateway JWT with this scope whose subject is in OPERATOR_SUBJECTS.
 */
export const OPERATOR_SCOPE = 'countersign:operator';
export const OperatorAuth = () => SetMetadata(AUTH_KIND, 'operator' satisfies AuthKind);

/** A gateway authenticated by its bearer JWT. Every query it makes is scoped to `tenantId`. */
export interface GatewayPrincipal {
  kind: 'gateway';
  tenantId: string;
  gatewayId: string;
  claims: Record<string, unknown>;
}

/** An approver authenticated by a signed link bound to one approval request. */
export interface ApproverPrincipal {
  kind: 'approver';
  tenantId: string;
  approverId: string;
  authReqId: string;
  /** The group through which the link's signer found this approver eligible, if any. */
  viaGroup?: string;
  linkId: string;
}

/**
 * An approver authenticated by a short-lived batch link: it names the approver, the tenant, the
 * agent, and the task (the intent's id) or, for calls that named no task, the MCP session. It
 * vouches for nothing else: each request it reaches is checked, and voted on, one by one.
 */
export interface ApproverBatchPrincipal {
  kind: 'approver-batch';
  tenantId: string;
  approverId: string;
  agentId: string;
  taskId?: string;
  mcpSessionId?: string;
  linkId: string;
}

/** A platform operator (see OPERATOR_SCOPE): no tenant, so no tenant-scoped query can take it. */
export interface OperatorPrincipal {
  kind: 'operator';
  subject: string;
  claims: Record<string, unknown>;
}

export type Principal = GatewayPrincipal | ApproverPrincipal | ApproverBatchPrincipal | OperatorPrincipal;

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  return ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
});
