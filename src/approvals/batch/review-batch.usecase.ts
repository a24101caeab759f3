import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { ApproverBatchPrincipal, ApproverPrincipal } from '../../common/auth/auth.decorators';
import { Conflict, Forbidden, NotFound, ProtocolError } from '../../common/errors/protocol-errors';
import { AUTH_REQ_ID } from '../../vocabulary/envelope';
import { ineligibility } from '../../vocabulary/approver-eligibility';
import type { JsonObject } from '../../common/json';
import { ApprovalRequest, ApprovalStatus, ToolCall } from '../approval-request.entity';
import { effectiveStatus } from '../approval-view';
import { assertionSchema } from '../passkeys/passkey.schema';
import type { BatchItemBinding } from '../passkeys/passkey-proof';
import { Passkeys, ProofRequirement } from '../passkeys/passkeys.service';
import { ApproverRouting } from '../approver-routing.port';
import { VoteDecision } from '../approval-vote.entity';
import { DecideApproval, DecideResult } from '../decide.usecase';
import { ApprovalBatches, BATCH_MAX } from './approval-batches.repository';
import { BatchLinks, MintedBatchLink, scopeOfLink } from './batch-links.service';
import { batchScopeOf, sameScope } from './batch-scope';

const reason = z
  .string()
  .trim()
  .min(1, { message: 'must not be empty: say why access is approved or denied' })
  .max(2000, { message: 'must be at most 2000 characters' });
const authReqId = z.string().regex(AUTH_REQ_ID, { message: 'is not an auth_req_id' });
const decision = z.enum(['approve', 'deny']);

/**
 * A batch's votes: each request decided on its own (`decisions`, each with its own reason or the
 * shared `reason`), or all alike (`all` with the `auth_req_ids` the approver saw and one `reason`).
 * The ids are always explicit: a request parked after the page was read is never decided unseen.
 */
export const batchVotesSchema = z
  .strictObject({
    decisions: z
      .array(z.strictObject({ auth_req_id: authReqId, decision, reason: reason.optional() }))
      .min(1)
      .max(BATCH_MAX)
      .optional(),
    all: decision.optional(),
    auth_req_ids: z.array(authReqId).min(1).max(BATCH_MAX).optional(),
    reason: reason.optional(),
    /** One WebAuthn assertion over the batch challenge (POST …/batch/passkey-challenge) of exactly these decisions and reasons. */
    passkey: assertionSchema.optional(),
  })
  .superRefine((b, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (b.decisions && b.all) return issue(['all'], 'give either decisions, or all with auth_req_ids, not both');
    if (!b.decisions && !b.all) return issue(['decisions'], 'is required (or all with auth_req_ids and a reason)');
    if (b.auth_req_ids && !b.all) return issue(['all'], 'is required with auth_req_ids: approve or deny');
    if (b.all) {
      if (!b.auth_req_ids) return issue(['auth_req_ids'], 'is required with all: the requests to decide alike');
      if (!b.reason) return issue(['reason'], 'is required with all: one reason for every request');
    }
    const ids = b.decisions ? b.decisions.map((d) => d.auth_req_id) : b.auth_req_ids!;
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id)) issue(b.decisions ? ['decisions', i, 'auth_req_id'] : ['auth_req_ids', i], 'appears twice: each request takes one vote');
      seen.add(id);
    });
    b.decisions?.forEach((d, i) => {
      if (!d.reason && !b.reason) issue(['decisions', i, 'reason'], 'is required (here, or the shared reason)');
    });
  });
export type BatchVotesInput = z.output<typeof batchVotesSchema>;

/** What the approver is about to sign for a batch: every decision and reason exactly as the batch vote will carry them. */
export const batchChallengeSchema = z.strictObject({
  items: z
    .array(z.strictObject({ auth_req_id: authReqId, decision, reason }))
    .min(1)
    .max(BATCH_MAX)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((i, n) => {
        if (seen.has(i.auth_req_id)) ctx.addIssue({ code: 'custom', path: [n, 'auth_req_id'], message: 'appears twice: each request takes one vote' });
        seen.add(i.auth_req_id);
      });
    }),
});
export type BatchChallengeInput = z.output<typeof batchChallengeSchema>;

/** One call in the batch, as the approver reads it before deciding. */
export interface BatchItem {
  auth_req_id: string;
  binding_message: string | null;
  tool_call: ToolCall;
  call_hash: string;
  delegator_id: string;
  delegator_name: string | null;
  intent: JsonObject;
  resource: JsonObject;
  environment: string | null;
  risk: JsonObject;
  reason: string;
  expires_at: string;
  quorum: number;
  votes: { approve: number; deny: number };
  /** Why this approver's vote on it must be signed with a passkey ('policy', 'approver': they always sign), or null. */
  passkey_required: ProofRequirement;
}

export interface BatchView {
  approver_id: string;
  agent_id: string;
  task_id?: string;
  mcp_session_id?: string;
  items: BatchItem[];
}

export type BatchVoteResult =
  | ({ auth_req_id: string; outcome: 'recorded' } & Omit<DecideResult, 'auth_req_id' | 'approver_sets' | 'standing_approval'>)
  | { auth_req_id: string; outcome: 'refused'; error: string; error_description: string; status?: ApprovalStatus }
  | { auth_req_id: string; outcome: 'failed'; error: 'server_error'; error_description: string };

export interface BatchVotesResult {
  recorded: number;
  refused: number;
  results: BatchVoteResult[];
}

/**
 * Batch review: one approver's pending requests from one agent for one task, read together and
 * decided each or all alike. Each decision is still one vote on one request through
 * DecideApproval (its own transaction, row lock, eligibility check and audit event), so a refused
 * item changes nothing for itself and rolls back no other.
 */
@Injectable()
export class ReviewBatch {
  private readonly logger = new Logger(ReviewBatch.name);

  constructor(
    private readonly batches: ApprovalBatches,
    private readonly routing: ApproverRouting,
    private readonly decide: DecideApproval,
    private readonly links: BatchLinks,
    private readonly passkeys: Passkeys,
  ) {}

  /** The requests the link's approver may still vote on in its scope. */
  async list(p: ApproverBatchPrincipal): Promise<BatchView> {
    const scope = scopeOfLink(p);
    const { disabled, groups } = await this.routing.standing(p.tenantId, p.approverId);
    if (disabled) throw new Forbidden(`${p.approverId} is disabled in the approver directory and may not vote`);
    const requests = (await this.batches.pendingFor(p.tenantId, scope, p.approverId)).filter((r) => eligibleVia(r, p.approverId, groups));
    const votes = await this.batches.votesOn(requests.map((r) => r.id));
    // The approver's own "always" choice holds for every request; a policy's for its own.
    const always = await this.passkeys.requirement({ tenantId: p.tenantId, proof: null }, p.approverId);
    const items = requests.map((r): BatchItem => {
      const own = votes.filter((v) => v.approvalId === r.id);
      const approve = own.filter((v) => v.decision === 'approve').length;
      return {
        auth_req_id: r.id,
        binding_message: r.bindingMessage,
        tool_call: r.toolCall,
        call_hash: r.callHash,
        delegator_id: r.delegatorId,
        delegator_name: typeof r.delegation.display_name === 'string' ? r.delegation.display_name : null,
        intent: r.intent,
        resource: r.resource,
        environment: r.environment,
        risk: r.risk,
        reason: r.reason,
        expires_at: r.expiresAt.toISOString(),
        quorum: r.quorum,
        votes: { approve, deny: own.length - approve },
        passkey_required: r.proof === 'passkey' ? 'policy' : always,
      };
    });
    return {
      approver_id: p.approverId,
      agent_id: p.agentId,
      ...('taskId' in scope ? { task_id: scope.taskId } : { mcp_session_id: scope.mcpSessionId }),
      items,
    };
  }

  /**
   * The passkey challenge of a batch vote: every item must be a pending request of the link's
   * batch that this approver may decide; the challenge binds each with its call hash.
   */
  async passkeyChallenge(p: ApproverBatchPrincipal, input: BatchChallengeInput) {
    const scope = scopeOfLink(p);
    const { disabled, groups } = await this.routing.standing(p.tenantId, p.approverId);
    if (disabled) throw new Forbidden(`${p.approverId} is disabled in the approver directory and may not vote`);
    const found = new Map(
      (
        await this.batches.byIds(
          p.tenantId,
          input.items.map((i) => i.auth_req_id),
        )
      ).map((r) => [r.id, r]),
    );
    const items: BatchItemBinding[] = [];
    let expiresAt = Infinity;
    for (const item of input.items) {
      const request = found.get(item.auth_req_id);
      if (!request || !sameScope(batchScopeOf(request), scope)) throw new NotFound(`no such approval request in this batch: ${item.auth_req_id}`);
      const status = effectiveStatus(request);
      if (status !== 'pending') throw new Conflict('request_closed', `${request.id} is ${status} and takes no more votes`, { status });
      if (!eligibleVia(request, p.approverId, groups)) throw new Forbidden(`${p.approverId} is not an approver of ${request.id}`);
      items.push({ auth_req_id: request.id, call_hash: request.callHash, decision: item.decision, reason: item.reason });
      expiresAt = Math.min(expiresAt, request.expiresAt.getTime());
    }
    return this.passkeys.batchDecisionChallenge(p, items, new Date(expiresAt));
  }

  /** Votes on each request in turn; says per request what happened. */
  async vote(p: ApproverBatchPrincipal, input: BatchVotesInput): Promise<BatchVotesResult> {
    const items: { authReqId: string; decision: VoteDecision; reason: string }[] = input.decisions
      ? input.decisions.map((d) => ({ authReqId: d.auth_req_id, decision: d.decision, reason: d.reason ?? input.reason! }))
      : input.auth_req_ids!.map((id) => ({ authReqId: id, decision: input.all!, reason: input.reason! }));
    const scope = scopeOfLink(p);
    // Read once for the groups through which each request names this approver; DecideApproval reads the directory again per vote.
    const { groups } = await this.routing.standing(p.tenantId, p.approverId);
    const found = new Map(
      (
        await this.batches.byIds(
          p.tenantId,
          items.map((i) => i.authReqId),
        )
      ).map((r) => [r.id, r]),
    );
    // A signed batch is verified once, before any vote: an assertion over another list (an item more
    // or less, another decision, reason or request) is refused, and nothing is recorded.
    const batchProof = input.passkey
      ? await this.passkeys.proveBatch(
          p,
          items.map((i) => ({ auth_req_id: i.authReqId, call_hash: found.get(i.authReqId)?.callHash ?? '', decision: i.decision, reason: i.reason })),
          input.passkey,
        )
      : undefined;
    const results: BatchVoteResult[] = [];
    for (const item of items) {
      const request = found.get(item.authReqId);
      if (!request || !sameScope(batchScopeOf(request), scope)) {
        // Another tenant's request, another agent's or task's, or none: the same answer, so a link learns nothing of what it does not cover.
        results.push({ auth_req_id: item.authReqId, outcome: 'refused', error: 'not_found', error_description: 'no such approval request in this batch' });
        continue;
      }
      const approver: ApproverPrincipal = {
        kind: 'approver',
        tenantId: p.tenantId,
        approverId: p.approverId,
        authReqId: request.id,
        viaGroup: groupVia(request, p.approverId, groups),
        // A vote's link id is unique (each link decides once): the batch link's id with the request's names this vote.
        linkId: `${p.linkId}:${request.id}`,
      };
      try {
        const r = await this.decide.execute({ approver, approvalId: request.id, decision: item.decision, reason: item.reason, batchProof });
        results.push({ auth_req_id: r.auth_req_id, outcome: 'recorded', status: r.status, your_vote: r.your_vote, votes: r.votes, quorum: r.quorum });
      } catch (e) {
        if (e instanceof ProtocolError) {
          const status = (e.extra as { status?: ApprovalStatus }).status;
          results.push({ auth_req_id: request.id, outcome: 'refused', error: e.code, error_description: e.description, ...(status ? { status } : {}) });
        } else {
          // Earlier votes stay recorded; this one's transaction rolled back. Say so for this item and go on.
          this.logger.error(`batch vote on ${request.id} failed: ${(e as Error).message}`);
          results.push({ auth_req_id: request.id, outcome: 'failed', error: 'server_error', error_description: 'the vote could not be recorded; try again' });
        }
      }
    }
    return { recorded: results.filter((r) => r.outcome === 'recorded').length, refused: results.filter((r) => r.outcome !== 'recorded').length, results };
  }

  /**
   * For the approval page: when this approver has other requests waiting in the same batch, a
   * batch link to them (with how many there are, this one included); otherwise null.
   */
  async offerFor(approver: ApproverPrincipal, request: ApprovalRequest): Promise<(MintedBatchLink & { count: number }) | null> {
    const scope = batchScopeOf(request);
    if (!scope) return null;
    const { groups } = await this.routing.standing(approver.tenantId, approver.approverId);
    const waiting = (await this.batches.pendingFor(approver.tenantId, scope, approver.approverId)).filter((r) => eligibleVia(r, approver.approverId, groups));
    if (waiting.length < 2) return null;
    return { ...(await this.links.mint(approver.tenantId, approver.approverId, scope)), count: waiting.length };
  }

  /** A batch link for the scope of a request the caller's approver link is for (the API's way in). */
  async linkFor(approver: ApproverPrincipal, request: ApprovalRequest): Promise<MintedBatchLink | null> {
    const scope = batchScopeOf(request);
    return scope ? this.links.mint(approver.tenantId, approver.approverId, scope) : null;
  }
}

/** The group through which the request names this approver, when not by name (undefined: by name, or not at all). */
function groupVia(r: ApprovalRequest, approverId: string, groups: string[]): string | undefined {
  if (!ineligibility(r, { approverId })) return undefined;
  return groups.find((g) => !ineligibility(r, { approverId, viaGroup: g }));
}

function eligibleVia(r: ApprovalRequest, approverId: string, groups: string[]): boolean {
  return !ineligibility(r, { approverId }) || groups.some((g) => !ineligibility(r, { approverId, viaGroup: g }));
}
