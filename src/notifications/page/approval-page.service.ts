import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, In } from 'typeorm';
import { auditContext } from '../../approvals/approval-audit';
import { ApprovalRequest } from '../../approvals/approval-request.entity';
import { effectiveStatus, setProgress } from '../../approvals/approval-view';
import { ApprovalVote, VoteDecision } from '../../approvals/approval-vote.entity';
import { DecideApproval } from '../../approvals/decide.usecase';
import type { Assertion } from '../../approvals/passkeys/passkey.schema';
import { Passkeys } from '../../approvals/passkeys/passkeys.service';
import { ReviewBatch } from '../../approvals/batch/review-batch.usecase';
import { BATCH_PAGE_PATH } from '../../approvals/batch/batch-links.service';
import { ineligibility } from '../../vocabulary/approver-eligibility';
import { AuditBatcher } from '../../audit/audit-batcher.service';
import { GetApproval } from '../../approvals/get-approval.usecase';
import { ApproverLinkVerifier } from '../../common/auth/approver-link.verifier';
import { ApproverPrincipal } from '../../common/auth/auth.decorators';
import { approverLinkBucket } from '../../common/rate-limit/rate-limit';
import { Conflict, InvalidToken, ProtocolError, RateLimited } from '../../common/errors/protocol-errors';
import { ExpiredCredential } from '../../common/errors/token-errors';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { Approver } from '../directory/approver.entity';
import { PushChannel } from '../push/push.channel';
import type { AlreadyDecidedModel, ApprovalPageModel, DecisionResultModel, ErrorPageModel } from './approval-page.model';
import { coveredCalls, pinText, STANDING_ENDS, standingChoice, standingCovers } from './standing-choice';
import type { StandingChoice } from '../../approvals/standing/standing-terms';
import { STANDING_PAGE_PATH } from './standing-approvals.page';

const FORM_TYP = 'countersign-approval-form+jwt';
const FORM_AUDIENCE = 'countersign:approval-form';
/** How long a rendered form stays submittable (never past the link itself). */
const FORM_TTL_SECONDS = 30 * 60;

export type PageOutcome<T> = { ok: true; model: T } | { ok: false; error: ErrorPageModel };

/**
 * What the approval page does: checks the link (signature, expiry, tenant, request, approver),
 * gathers everything the approver needs to judge, and records the decision through the
 * lifecycle's DecideApproval. Every failure is a page saying what went wrong; nothing changes.
 */
@Injectable()
export class ApprovalPage {
  constructor(
    private readonly dataSource: DataSource,
    private readonly links: ApproverLinkVerifier,
    private readonly keys: SigningKeys,
    private readonly decide: DecideApproval,
    private readonly push: PushChannel,
    private readonly audit: AuditBatcher,
    private readonly approvals: GetApproval,
    private readonly limits: RateLimiter,
    private readonly passkeys: Passkeys,
    private readonly batches: ReviewBatch,
  ) {}

  async view(authReqId: string, linkToken: string | undefined): Promise<PageOutcome<ApprovalPageModel | AlreadyDecidedModel>> {
    const opened = await this.open(authReqId, linkToken);
    if (!opened.ok) return opened;
    const { approver, request } = opened;
    const votes = await this.approvals.votes(request.id);
    const own = votes.find((v) => v.approverId === approver.approverId);
    // The link decides once; opening it again shows what was decided instead of refusing.
    if (own) return { ok: true, model: await this.alreadyDecided(request, votes, own) };
    const status = effectiveStatus(request);
    if (status !== 'pending') return failure(410, `This request is ${status}`, closedMessage(status));

    const [person, passkeys, required] = await Promise.all([
      this.dataSource.manager.findOne(Approver, { where: { tenantId: request.tenantId, id: approver.approverId } }),
      this.passkeys.list(approver),
      this.passkeys.requirement(request, approver.approverId),
    ]);
    await this.audit.append({
      ...auditContext(request),
      type: 'approval.viewed',
      actor: `approver:${approver.approverId}`,
      data: { link_id: approver.linkId },
    });
    const formExpiry = Math.min(Date.now() / 1000 + FORM_TTL_SECONDS, request.expiresAt.getTime() / 1000);
    const csrfToken = await this.keys.sign(
      {},
      { typ: FORM_TYP, audience: FORM_AUDIENCE, subject: approver.linkId, expiresAt: new Date(Math.ceil(formExpiry) * 1000), jti: randomUUID() },
    );
    const pagePasskeys = { required, always: passkeys.always, registered: passkeys.passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.created_at })) };
    // Other calls of the same agent and task waiting for this approver: offer them on one page.
    const offer = await this.batches.offerFor(approver, request);
    const model = { ...pageModel(request, votes, approver, person, linkToken!, csrfToken, this.push.publicKey), passkeys: pagePasskeys };
    // Same origin as this page (PUBLIC_URL may name another host in front of it).
    const batch = offer
      ? {
          count: offer.count,
          url: `${BATCH_PAGE_PATH}?link=${encodeURIComponent(offer.token)}`,
          scope: typeof request.intent.id === 'string' && request.intent.id ? ('task' as const) : ('session' as const),
        }
      : undefined;
    return { ok: true, model: batch ? { ...model, batch } : model };
  }

  async submit(
    authReqId: string,
    form: { link?: string; csrf?: string; decision: VoteDecision; reason: string; standing?: StandingChoice; passkey?: Assertion },
  ): Promise<PageOutcome<DecisionResultModel>> {
    const opened = await this.open(authReqId, form.link);
    if (!opened.ok) return opened;
    try {
      const { payload } = await this.keys.verify(form.csrf ?? '', { typ: FORM_TYP, audience: FORM_AUDIENCE });
      if (payload.sub !== opened.approver.linkId) throw new Error('form token is for another link');
    } catch {
      return failure(403, 'This form has expired', 'The form could not be verified (it is too old or was not issued for this link). Open the link again.');
    }
    try {
      const result = await this.decide.execute({
        approver: opened.approver,
        approvalId: authReqId,
        decision: form.decision,
        reason: form.reason,
        standing: form.standing,
        passkey: form.passkey,
      });
      const granted = result.standing_approval;
      return {
        ok: true,
        model: {
          authReqId,
          bindingMessage: opened.request.bindingMessage,
          yourVote: form.decision,
          status: result.status,
          votes: result.votes,
          quorum: result.quorum,
          approverSets: result.approver_sets,
          ...(granted
            ? {
                standing: `${grantedCovers(opened.request, granted)} Until ${granted.expires_at}. ${STANDING_ENDS}`,
                standingPageUrl: `${STANDING_PAGE_PATH}?link=${encodeURIComponent(form.link!)}`,
              }
            : {}),
        },
      };
    } catch (e) {
      if (e instanceof Conflict && e.code === 'already_voted') {
        return failure(409, 'This link has been used', 'You have already decided on this request; each link decides once.');
      }
      if (e instanceof Conflict) {
        const status = String((e.extra as { status?: string }).status ?? 'closed');
        return failure(409, `This request is ${status}`, closedMessage(status));
      }
      if (e instanceof ProtocolError) return failure(e.status, 'Your decision was not recorded', e.message);
      throw e;
    }
  }

  private async alreadyDecided(request: ApprovalRequest, votes: ApprovalVote[], own: ApprovalVote): Promise<AlreadyDecidedModel> {
    const status = effectiveStatus(request);
    let decidedBy: AlreadyDecidedModel['decidedBy'] = null;
    if (status !== 'pending') {
      const people = await this.dataSource.manager.find(Approver, { where: { tenantId: request.tenantId, id: In(votes.map((v) => v.approverId)) } });
      const names = new Map(people.map((p) => [p.id, p.displayName]));
      decidedBy = votes.map((v) => ({
        approverId: v.approverId,
        displayName: names.get(v.approverId) ?? v.approverId,
        decision: v.decision,
        reason: v.reason,
        at: v.createdAt.toISOString(),
      }));
    }
    return {
      kind: 'already-decided',
      authReqId: request.id,
      bindingMessage: request.bindingMessage,
      yourVote: { decision: own.decision, reason: own.reason, at: own.createdAt.toISOString() },
      status,
      votes: { approve: votes.filter((v) => v.decision === 'approve').length, deny: votes.filter((v) => v.decision === 'deny').length },
      quorum: request.quorum,
      approverSets: setProgress(request, votes),
      decidedBy,
    };
  }

  /** The link's checks shared by viewing and deciding. */
  private async open(authReqId: string, token: string | undefined) {
    let approver: ApproverPrincipal;
    try {
      if (!token) throw new InvalidToken('no link');
      approver = await this.links.verifyToken(token);
    } catch (e) {
      const expired = e instanceof ExpiredCredential;
      return expired
        ? failure(
            410,
            'This link has expired',
            'The request it was for has expired or the link is too old. Ask for a new request if the agent still needs access.',
          )
        : failure(401, 'This link is not valid', 'The link is damaged or was not issued by this service. Use the link from your notification exactly as sent.');
    }
    const notForThis = failure(404, 'This link is not valid', 'No request matches this link.');
    if (approver.authReqId !== authReqId) return notForThis;
    try {
      await this.limits.consume('approver_link', approverLinkBucket(approver));
    } catch (e) {
      if (!(e instanceof RateLimited)) throw e;
      const error = failure(429, 'Too many tries', `This link was opened or submitted too often. Wait ${e.retryAfterSeconds} s and open it again.`);
      return { ok: false as const, error: { ...error.error, retryAfterSeconds: e.retryAfterSeconds } };
    }
    // The link's tenant scopes the lookup: a link from another tenant finds nothing.
    const request = await this.approvals.request(approver.tenantId, authReqId);
    if (!request) return notForThis;
    const problem = ineligibility(request, approver);
    if (problem) return failure(403, 'You cannot decide this request', problem);
    return { ok: true as const, approver, request };
  }
}

/** What the standing approval granted covers, in the words the page used before the vote (it may differ from the choice: a quorum agrees on the narrowest). */
function grantedCovers(r: ApprovalRequest, granted: NonNullable<Awaited<ReturnType<DecideApproval['execute']>>['standing_approval']>): string {
  return standingCovers(
    { who: coveredCalls(r), session: granted.mcp_session_id },
    {
      scope: granted.scope,
      pins: Object.keys(granted.pinned).map((path) => pinText(r.toolCall.arguments, path)),
      expiresIn: Math.round((Date.parse(granted.expires_at) - Date.parse(granted.created_at)) / 1000),
      maxUses: granted.max_uses,
    },
  );
}

function failure(status: number, title: string, message: string): { ok: false; error: ErrorPageModel } {
  return { ok: false, error: { status, title, message } };
}

function closedMessage(status: string): string {
  return (
    {
      approved: 'It was approved; no further decision is needed.',
      denied: 'It was denied; no further decision is needed.',
      expired: 'Nobody decided in time, so the agent’s call was not allowed.',
      cancelled: 'The gateway withdrew it; no decision is needed.',
    }[status] ?? 'It takes no more decisions.'
  );
}

/** The delegation chain, current actor first: the agent, then each `act` it acts for (RFC 8693). */
function chainOf(r: ApprovalRequest): string[] {
  const chain = [r.agentId];
  let act = (r.agent.claims as { act?: { sub?: string; act?: unknown } } | undefined)?.act;
  while (act && typeof act.sub === 'string' && chain.length < 20) {
    chain.push(act.sub);
    act = act.act as typeof act;
  }
  return chain;
}

function pageModel(
  r: ApprovalRequest,
  votes: ApprovalVote[],
  approver: ApproverPrincipal,
  person: Approver | null,
  linkToken: string,
  csrfToken: string,
  vapidPublicKey: string | null,
): Omit<ApprovalPageModel, 'passkeys'> {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    authReqId: r.id,
    approver: { id: approver.approverId, displayName: person?.displayName ?? approver.approverId },
    bindingMessage: r.bindingMessage,
    toolCall: r.toolCall,
    callHash: r.callHash,
    agent: { id: r.agentId, class: r.agent.class, trustLevel: r.agent.trust_level, operator: r.agentOperator ?? undefined, chain: chainOf(r) },
    delegator: { id: r.delegatorId, displayName: str(r.delegation.display_name), delegationId: str(r.delegation.delegation_id) },
    intent: { id: str(r.intent.id), text: str(r.intent.text), category: str(r.intent.category) },
    resource: { id: str(r.resource.id), type: str(r.resource.type), classification: str(r.resource.classification) },
    environment: r.environment,
    risk: r.risk,
    reason: r.reason,
    votes: votes.map((v) => ({ approverId: v.approverId, decision: v.decision, at: v.createdAt.toISOString() })),
    quorum: r.quorum,
    approverSets: setProgress(r, votes),
    independentApprovers: r.independentApprovers,
    expiresAt: r.expiresAt.toISOString(),
    secondsLeft: Math.max(0, Math.floor((r.expiresAt.getTime() - Date.now()) / 1000)),
    linkToken,
    csrfToken,
    formAction: `/approve/${r.id}`,
    vapidPublicKey,
    standing: standingChoice(r),
  };
}
