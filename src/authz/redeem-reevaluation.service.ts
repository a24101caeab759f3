import { Injectable } from '@nestjs/common';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { Reevaluation, RedeemReevaluation } from '../approvals/redeem-reevaluation.port';
import { HUMAN_DISABLED } from '../vocabulary/reason-codes';
import { Authorize, ParkedCall } from './authorize.usecase';
import { Delegations } from './delegations/delegations.service';
import { UserDirectory } from './people/user-directory.port';
import { CallFacts } from './policy/cedar-schema';

/** What authorize.usecase's parkInput adds to the facts in the request's `risk`, which are not facts. */
const NOT_FACTS = ['decision_id', 'reasons', 'signals'] as const;

/**
 * The authorization part's answer to "does this approved call still stand?" at redeem.
 *
 * - Parked by /v1/authorize (the request has a decision_id): the decision is repeated with the
 *   approval counted as given (Authorize.reevaluate), on the facts stored with the request and
 *   the service's clock now.
 * - Parked directly by a gateway (POST /v1/approvals) or a CIBA client: there is no decision to
 *   repeat, and the facts in `risk` are the caller's own words. When the gateway named one of
 *   this tenant's delegations as the one the call rests on, it must still be in force (not
 *   revoked, not expired); otherwise (none named, or an id of the gateway's own) nothing is
 *   re-checked and the outcome says so (scope `none`). Either way, a delegating human the
 *   directory has disabled since denies it (`human_disabled`, scope `human`), as in a repeated decision.
 */
@Injectable()
export class PolicyRedeemReevaluation extends RedeemReevaluation {
  constructor(
    private readonly authorize: Authorize,
    private readonly delegations: Delegations,
    private readonly users: UserDirectory,
  ) {
    super();
  }

  async reevaluate(request: ApprovalRequest): Promise<Reevaluation> {
    if (request.decisionId) return this.repeatDecision(request);
    // The cached read, as a repeated decision reads it (within a second of a change, on every instance).
    const { user } = await this.users.person(request.tenantId, request.delegatorId);
    if (user.status === 'disabled') {
      return {
        verdict: 'deny',
        reasons: [HUMAN_DISABLED],
        scope: 'human',
        decided_at: new Date().toISOString(),
        detail: { delegator_id: request.delegatorId },
      };
    }
    const delegationId = request.delegation.delegation_id;
    if (typeof delegationId === 'string' && delegationId) return this.checkDelegation(request.tenantId, delegationId);
    return { verdict: 'allow', reasons: [], scope: 'none', decided_at: new Date().toISOString() };
  }

  private async repeatDecision(request: ApprovalRequest): Promise<Reevaluation> {
    const parked = parkedCallOf(request);
    if (!parked) {
      // What authz stored is not what it would store: fail closed rather than issue on a guess.
      return { verdict: 'deny', reasons: ['reevaluation_failed'], scope: 'policy', decided_at: new Date().toISOString() };
    }
    const { decision, policy_version, clock } = await this.authorize.reevaluate(request.tenantId, parked);
    return {
      verdict: decision.verdict === 'allow' ? 'allow' : 'deny',
      reasons: decision.reasons,
      scope: 'policy',
      policy_version,
      determining_policies: decision.determining_policies,
      decided_at: clock.decided_at,
      detail: { clock, parked_decision_id: request.decisionId },
    };
  }

  private async checkDelegation(tenantId: string, id: string): Promise<Reevaluation> {
    const now = new Date();
    const standing = await this.delegations.standing(tenantId, id, now);
    // The gateway's own reference, not one of ours: nothing here can say it no longer holds.
    if (!standing)
      return { verdict: 'allow', reasons: [], scope: 'none', decided_at: now.toISOString(), detail: { delegation_id: id, note: 'unknown_delegation' } };
    const { problem } = standing;
    return {
      verdict: problem ? 'deny' : 'allow',
      reasons: problem ? [problem] : [],
      scope: 'delegation',
      decided_at: now.toISOString(),
      detail: { delegation_id: id },
    };
  }
}

/** The call as /v1/authorize decided it, rebuilt from the request; undefined if the row does not hold it. */
export function parkedCallOf(request: ApprovalRequest): ParkedCall | undefined {
  const stored: Record<string, unknown> = { ...request.risk };
  for (const key of NOT_FACTS) delete stored[key];
  const facts = stored as unknown as CallFacts;
  // The token's act chain below the current actor is kept in agent.claims (parkInput).
  const actors = [request.agentId];
  for (let act = request.agent.claims?.act as { sub?: unknown; act?: unknown } | undefined; act; act = act.act as typeof act) {
    if (typeof act.sub !== 'string') return undefined;
    actors.push(act.sub);
  }
  if (facts.agent_id !== request.agentId || facts.human !== request.delegatorId || facts.chain_length !== actors.length) return undefined;
  const resourceId = request.resource.id;
  return {
    facts,
    actors,
    human: request.delegatorId,
    action: request.toolCall,
    ...(typeof resourceId === 'string' ? { resourceId } : {}),
  };
}
