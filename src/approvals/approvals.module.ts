/**
 * The approval request lifecycle: park, wait (poll / long-poll / CIBA poll / ping / push),
 * decide (decide-once, quorum), expire, cancel, and the approval token that resumes the
 * parked call. It knows nothing of policies or notification channels.
 */
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApprovalEvents } from './approval-events.service';
import { ApprovalJobs } from './approval-jobs.service';
import { DeliverCallbackProcessor, ExpireApprovalProcessor, ReconcileProcessor } from './approval-processors';
import { ApprovalQueue } from './approval-queues';
import { ApprovalRequest } from './approval-request.entity';
import { ApprovalRequests } from './approval-requests.repository';
import { CallbackAttempts } from './callback-attempts.repository';
import { ApprovalSettlement } from './approval-settlement.service';
import { ApprovalTokens } from './approval-tokens.service';
import { ApprovalVote } from './approval-vote.entity';
import { ApprovalsController } from './approvals.controller';
import { ApprovalBatchController } from './batch/approval-batch.controller';
import { ApprovalBatches } from './batch/approval-batches.repository';
import { BatchLinks } from './batch/batch-links.service';
import { ReviewBatch } from './batch/review-batch.usecase';
import { ApprovalsReconciler } from './approvals-reconciler.service';
import { ApproverLinks } from './approver-links.service';
import { CallbackAttempt } from './callback-attempt.entity';
import { CallbackEndpointPolicy } from './callback-endpoint.policy';
import { CancelApproval } from './cancel-approval.usecase';
import { DecideApproval } from './decide.usecase';
import { DeliverCallback } from './deliver-callback.usecase';
import { ExpireApproval } from './expire-approval.usecase';
import { GetApproval } from './get-approval.usecase';
import { ParkApproval } from './park-approval.usecase';
import { RedeemApprovalToken } from './redeem-approval-token.usecase';
import { RejectParkedApprovals } from './reject-parked-approvals.usecase';
import { PollingStates } from './token-redemption';
import { PasskeyChallenge, PasskeyCredential, PasskeyPreference } from './passkeys/passkey.entity';
import { PasskeysController } from './passkeys/passkeys.controller';
import { Passkeys } from './passkeys/passkeys.service';
import { DecisionHistory } from './decision-history.service';
import { StandingApproval } from './standing/standing-approval.entity';
import { StandingApprovalsController } from './standing/standing-approvals.controller';
import { StandingApprovals } from './standing/standing-approvals.service';

const services = [
  ApprovalBatches,
  ApprovalEvents,
  ApprovalJobs,
  ApprovalRequests,
  CallbackAttempts,
  ApprovalSettlement,
  ApprovalTokens,
  ApproverLinks,
  BatchLinks,
  CallbackEndpointPolicy,
  CancelApproval,
  DecideApproval,
  DecisionHistory,
  DeliverCallback,
  ExpireApproval,
  GetApproval,
  ParkApproval,
  Passkeys,
  RedeemApprovalToken,
  RejectParkedApprovals,
  ReviewBatch,
  StandingApprovals,
  // The redeem's polling state lives on the request's row.
  { provide: PollingStates, useExisting: ApprovalRequests },
];

@Module({})
export class ApprovalsModule {
  /** `http` serves the API; `workers` runs the queue processors and the start-up reconciler. */
  static register(options: { http: boolean; workers: boolean }): DynamicModule {
    return {
      module: ApprovalsModule,
      // Global: the authz part parks and rejects calls through these exports.
      global: true,
      imports: [
        TypeOrmModule.forFeature([ApprovalRequest, ApprovalVote, CallbackAttempt, StandingApproval, PasskeyCredential, PasskeyChallenge, PasskeyPreference]),
        BullModule.registerQueue({ name: ApprovalQueue.Expiry }, { name: ApprovalQueue.Callbacks }, { name: ApprovalQueue.Maintenance }),
      ],
      controllers: options.http ? [ApprovalsController, ApprovalBatchController, StandingApprovalsController, PasskeysController] : [],
      providers: [...services, ...(options.workers ? [ExpireApprovalProcessor, DeliverCallbackProcessor, ReconcileProcessor, ApprovalsReconciler] : [])],
      exports: [
        ParkApproval,
        ApproverLinks,
        CancelApproval,
        ApprovalEvents,
        RejectParkedApprovals,
        DecideApproval,
        GetApproval,
        RedeemApprovalToken,
        CallbackEndpointPolicy,
        StandingApprovals,
        DecisionHistory,
        ReviewBatch,
        Passkeys,
      ],
    };
  }
}
