import { DomainMetrics } from '../common/metrics/domain-metrics';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditLog } from '../audit/audit-log.service';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { auditContext } from './approval-audit';
import { ApprovalFacade, firstApproval } from './approval-facade.port';
import { ApprovalJobData } from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { ApprovalTokens } from './approval-tokens.service';
import { denialOf } from './approval-view';
import { CallbackAttempts } from './callback-attempts.repository';
import { CallbackOutcome } from './callback-attempt.entity';
import { afterAttempt, CallbackAnswer, DeliveryVerdict, judgeAttempt } from './callback-delivery';
import { CallbackEndpointPolicy } from './callback-endpoint.policy';
import { createHash, randomUUID } from 'node:crypto';
import { requestPinned } from '../common/pinned-request';
import { deniedEvent, reevaluatedEvent } from './redeem-approval-token.usecase';
import { Reevaluation, RedeemReevaluation } from './redeem-reevaluation.port';

/**
 * Tells the gateway that a request is settled (CIBA ping or push). One attempt per call; every
 * attempt is recorded. What an answer means and whether it is retried: callback-delivery.ts.
 */
@Injectable()
export class DeliverCallback {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly attempts: CallbackAttempts,
    private readonly audit: AuditLog,
    private readonly tokens: ApprovalTokens,
    private readonly policy: CallbackEndpointPolicy,
    private readonly reevaluation: RedeemReevaluation,
    private readonly facade: ApprovalFacade,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Absent in a worker-only process, which serves no /metrics.
    @Optional() private readonly metrics?: DomainMetrics,
  ) {}

  async execute(job: ApprovalJobData, attempt: number, lastAttempt: boolean): Promise<DeliveryVerdict> {
    const request = await this.requests.find(job.tenantId, job.approvalId);
    if (!request || request.callbackState !== 'pending' || !request.notificationEndpoint) return 'done';

    const started = Date.now();
    const sent = await this.send(request, request.notificationEndpoint);
    const durationMs = 'refusal' in sent ? 0 : Date.now() - started;
    const judged = judgeAttempt(sent, lastAttempt);
    if (judged.outcome === 'retrying' || judged.outcome === 'failed') this.metrics?.callbackFailed();
    await this.record(request, attempt, judged.outcome, judged.statusCode, judged.error, durationMs);
    return judged.verdict;
  }

  /**
   * One attempt: resolve and check the endpoint, then POST to the address that was checked (no
   * second DNS lookup can send it elsewhere). A name that does not resolve is a network error.
   */
  private async send(request: ApprovalRequest, endpoint: string): Promise<CallbackAnswer> {
    try {
      const checked = await this.policy.check(endpoint);
      if (checked.refusal !== undefined) return { refusal: checked.refusal };
      const body = JSON.stringify(await this.body(request));
      const { status } = await requestPinned(new URL(endpoint), checked.address, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${request.notificationToken}`,
          'idempotency-key': `"${idempotencyKey(request)}"`,
        },
        body,
        signal: AbortSignal.timeout(this.config.CALLBACK_TIMEOUT_MS),
      });
      return { status, error: null };
    } catch (e) {
      const error = (e as Error).name === 'TimeoutError' ? `timed out after ${this.config.CALLBACK_TIMEOUT_MS} ms` : `network error: ${(e as Error).message}`;
      return { status: null, error };
    }
  }

  /**
   * Ping: the id only. Push: the tokens, or the error. A facade's client (CIBA) gets exactly CIBA
   * Core §10.3's bodies; the gateway API adds the status and the denials.
   */
  private async body(request: ApprovalRequest): Promise<Record<string, unknown>> {
    if (request.deliveryMode === 'ping') return { auth_req_id: request.id };
    const facadeRows = await this.facade.rowsOf(this.requests.reader, request);
    const openIdClient = this.facade.clientIn(facadeRows) !== undefined;
    const head = openIdClient ? { auth_req_id: request.id } : { auth_req_id: request.id, status: request.status };
    switch (request.status) {
      case 'approved': {
        // As at the token endpoint: the call is judged again before a token leaves; a deny sends the denial instead.
        if ((await this.reevaluateBeforePush(request)).verdict === 'deny') return this.body(request);
        const votes = await this.requests.votes(request.id);
        const jti = await this.stableJti(request);
        if (openIdClient)
          return {
            ...head,
            ...(await this.facade.tokenResponse(facadeRows, request, firstApproval(votes), (claims) => this.tokens.issue(request, votes, jti, claims))),
          };
        const issued = await this.tokens.issue(request, votes, jti);
        return { ...head, approval_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn };
      }
      case 'denied': {
        const votes = await this.requests.denials(request.id);
        const denial = denialOf(request, votes);
        return { ...head, error: 'access_denied', error_description: denial.description, ...(openIdClient ? {} : denial.details) };
      }
      default:
        if (openIdClient && request.status === 'cancelled')
          return { ...head, error: 'transaction_failed', error_description: 'the approval request was cancelled' };
        return { ...head, error: 'expired_token', error_description: 'the approval request has expired' };
    }
  }

  /** Every attempt that would carry a token re-evaluates (a retry comes later, and things change); each is audited. */
  private async reevaluateBeforePush(request: ApprovalRequest): Promise<Reevaluation> {
    const reevaluation = await this.reevaluation.reevaluate(request);
    await this.requests.transaction(async (tx) => {
      const reevaluated = reevaluatedEvent(request, reevaluation, 'system');
      if (reevaluation.verdict === 'deny') {
        await this.requests.denyOnReevaluation(tx, request, reevaluation);
        await this.audit.append(tx, reevaluated, deniedEvent(request));
      } else {
        await this.requests.saveReevaluation(tx, request, reevaluation);
        await this.audit.append(tx, reevaluated);
      }
    });
    return reevaluation;
  }

  /** One jti per request across retries, so the gateway's replay check dedupes a resent token. */
  private async stableJti(request: ApprovalRequest): Promise<string> {
    if (!request.tokenJti) {
      request.tokenJti = randomUUID();
      await this.requests.assignTokenJti(request, request.tokenJti);
    }
    return request.tokenJti;
  }

  private async record(
    request: ApprovalRequest,
    jobAttempt: number,
    outcome: CallbackOutcome,
    statusCode: number | null,
    error: string | null,
    durationMs: number,
  ): Promise<void> {
    const key = idempotencyKey(request);
    await this.attempts.record(request, { outcome, statusCode, error, durationMs, idempotencyKey: key }, (number) => ({
      ...auditContext(request),
      type: afterAttempt(request, outcome).auditType,
      actor: 'system',
      data: {
        mode: request.deliveryMode,
        attempt: number,
        job_attempt: jobAttempt,
        outcome,
        status_code: statusCode,
        error,
        duration_ms: durationMs,
        idempotency_key: key,
      },
    }));
  }
}

/**
 * The callback's Idempotency-Key: derived from the request and the event it announces (its
 * settled status), not stored, so every attempt of one callback carries the same key even when
 * the record of an earlier attempt was lost (the database was down after the gateway answered).
 * A gateway that dedupes on it sees one delivery.
 */
export function idempotencyKey(request: Pick<ApprovalRequest, 'tenantId' | 'id' | 'deliveryMode' | 'status'>): string {
  const digest = createHash('sha256')
    .update(`countersign-callback\0${request.tenantId}\0${request.id}\0${request.deliveryMode}\0${request.status}`)
    .digest('base64url');
  return `cb_${digest.slice(0, 32)}`;
}
