import { Injectable } from '@nestjs/common';
import { AuditEntry, AuditLog } from '../audit/audit-log.service';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { CallbackAttempt } from './callback-attempt.entity';
import { afterAttempt } from './callback-delivery';

/** What one attempt to deliver a callback saw, before it is numbered and stored. */
export type AttemptRecord = Pick<CallbackAttempt, 'outcome' | 'statusCode' | 'error' | 'durationMs' | 'idempotencyKey'>;

/**
 * Callback attempts as stored: each attempt, numbered over the request's whole history (a job
 * re-created by the reconciler continues the count), with where the request's callback stands
 * after it and the attempt's audit event, in one transaction.
 */
@Injectable()
export class CallbackAttempts {
  constructor(
    private readonly requests: ApprovalRequests,
    private readonly audit: AuditLog,
  ) {}

  /** Stores the attempt; `event` builds its audit event from the attempt's number. */
  async record(request: ApprovalRequest, attempt: AttemptRecord, event: (number: number) => AuditEntry): Promise<void> {
    const after = afterAttempt(request, attempt.outcome);
    await this.requests.transaction(async (tx) => {
      const number = (await tx.count(CallbackAttempt, { where: { approvalId: request.id, tenantId: request.tenantId } })) + 1;
      await tx.insert(CallbackAttempt, {
        ...attempt,
        tenantId: request.tenantId,
        approvalId: request.id,
        attempt: number,
        mode: request.deliveryMode,
        endpoint: request.notificationEndpoint!,
      });
      if (after.callbackState) await this.requests.settleCallback(tx, request, after.callbackState, after.redeemed);
      await this.audit.append(tx, event(number));
    });
  }
}
