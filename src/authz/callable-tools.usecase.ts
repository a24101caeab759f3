/**
 * Which tools an agent could ever be allowed to call: a tool is `always_denied` only when one of
 * the rules that hold whatever the policy says denies every call of it, whatever its input — the
 * agent token is not valid for this tenant, the delegation chain is broken, no hop grants the tool
 * on any resource, the human is not entitled to it, the tenant's catalogue lacks it, the human is
 * disabled. What the policy set itself decides depends on the call and is not guessed here: a tool
 * not always denied may still be denied, or need approval, when called. Nothing is audited or
 * counted (no call is made); a gateway uses the answer to leave tools out of tools/list.
 */
import { Injectable } from '@nestjs/common';
import { GatewayPrincipal } from '../common/auth/auth.decorators';
import { AgentIdentityVerifier } from './agent-identity.verifier';
import { HUMAN_DISABLED, NOT_DELEGATED, NOT_ENTITLED, TOOL_NOT_IN_CATALOGUE } from '../vocabulary/reason-codes';
import { CallableToolsInput } from './callable-tools.command';
import { outsideCatalogue } from './catalogue/tool-call';
import { Delegations } from './delegations/delegations.service';
import { UserDirectory } from './people/user-directory.port';
import { PolicyStore } from './policies/policy-store.service';
import { chainMayCover, grantMayCover } from './policy/delegation-chain';

export interface CallableTool {
  server: string;
  tool: string;
  /** Denied whatever the call's input: the reasons /v1/authorize would give first. */
  always_denied: boolean;
  reasons: string[];
}

@Injectable()
export class CallableTools {
  constructor(
    private readonly identities: AgentIdentityVerifier,
    private readonly delegations: Delegations,
    private readonly policies: PolicyStore,
    private readonly users: UserDirectory,
  ) {}

  async execute(gateway: GatewayPrincipal, input: CallableToolsInput): Promise<{ tools: CallableTool[] }> {
    const answer = (reasons: (t: { server: string; tool: string }) => string[]) => ({
      tools: input.tools.map((t) => {
        const why = reasons(t);
        return { server: t.server, tool: t.tool, always_denied: why.length > 0, reasons: why };
      }),
    });
    const verified = await this.identities.verify(input.agent.token, gateway.tenantId);
    if (!verified.ok) return answer(() => [verified.reason]);
    const { identity } = verified;
    const [chain, policy, { user, entitlements }] = await Promise.all([
      this.delegations.chain(gateway.tenantId, identity),
      this.policies.forTenant(gateway.tenantId),
      this.users.person(gateway.tenantId, identity.human),
    ]);
    return answer(({ server, tool }) => {
      const reasons: string[] = [];
      if (!chain.ok) reasons.push(chain.problem);
      else if (
        !chainMayCover(
          chain.hops.map((hop) => hop.map((d) => ({ tools: d.tools, resources: d.resources }))),
          server,
          tool,
        )
      )
        reasons.push(NOT_DELEGATED);
      if (entitlements && !grantMayCover([entitlements], server, tool)) reasons.push(NOT_ENTITLED);
      if (outsideCatalogue(policy.catalogue, { server, tool })) reasons.push(TOOL_NOT_IN_CATALOGUE);
      if (user.status === 'disabled') reasons.push(HUMAN_DISABLED);
      return reasons;
    });
  }
}
