/**
 * Approvers and how they are reached: the approver directory (people, groups, push
 * subscriptions), notification rounds and deliveries on BullMQ (email via SMTP, web push with
 * VAPID), escalation and reminders, and the approval page with its service worker. It uses the
 * approval lifecycle (links, decisions) and provides the lifecycle's ApproverRouting port, and
 * authz's UserDirectory port (the human's groups, for policies).
 */
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApproverRouting } from '../approvals/approver-routing.port';
import { UserDirectory } from '../authz/people/user-directory.port';
import { DeliverNotification } from './deliver-notification.usecase';
import { ApproverDirectory } from './directory/approver-directory.service';
import { ApproverPasskeys } from './directory/approver-passkeys.service';
import { ReviewDeliveries } from './reviews/review-deliveries.repository';
import { Approver, ApproverGroup, ApproverGroupMember } from './directory/approver.entity';
import { ApproversController } from './directory/approvers.controller';
import { DemoDirectorySeeder } from './directory/demo-directory.seeder';
import { DirectoryMembership } from './directory/directory-membership.service';
import { ApproverChannels } from './approver-channels';
import { EmailChannel } from './email/email.channel';
import { NotificationAttempt, NotificationDelivery } from './notification-delivery.entity';
import { NotificationJobs } from './notification-jobs.service';
import { NotificationDeliveryProcessor, NotificationRoundProcessor } from './notification-processors';
import { NotificationQueue } from './notification-queues';
import { NotificationRouting } from './notification-routing.service';
import { NotifyApprovers } from './notify-approvers.usecase';
import { NotificationRounds } from './notification-rounds.repository';
import { NotificationDeliveries } from './notification-deliveries.repository';
import { ApprovalPageController } from './page/approval-page.controller';
import { StandingApprovalsPageController } from './page/standing-approvals-page.controller';
import { StandingApprovalsPage } from './page/standing-approvals.page';
import { ApprovalPage } from './page/approval-page.service';
import { BatchReviewPageController } from './page/batch-review-page.controller';
import { BatchReviewPage } from './page/batch-review.page';
import { PushChannel } from './push/push.channel';
import { PushEndpointPolicy } from './push/push-endpoint.policy';
import { PushSubscription } from './push/push-subscription.entity';
import { PushSubscriptionsController } from './push/push-subscriptions.controller';
import { PushSubscriptions } from './push/push-subscriptions.service';
import { NotifyReviewers } from './reviews/notify-reviewers.usecase';
import { ReviewNotificationJobs, ReviewNotificationProcessor } from './reviews/review-notifications';
import { ReviewPageController } from './reviews/review-page.controller';
import { ReviewPage } from './reviews/review-page.service';

@Module({})
export class NotificationsModule {
  static register(options: { http: boolean; workers: boolean }): DynamicModule {
    return {
      module: NotificationsModule,
      // Global: the lifecycle (ParkApproval, DecideApproval, the reconciler) injects ApproverRouting.
      global: true,
      imports: [
        TypeOrmModule.forFeature([Approver, ApproverGroup, ApproverGroupMember, PushSubscription, NotificationDelivery, NotificationAttempt]),
        BullModule.registerQueue({ name: NotificationQueue.Rounds }, { name: NotificationQueue.Deliveries }, { name: NotificationQueue.Reviews }),
      ],
      controllers: options.http
        ? [
            ApproversController,
            PushSubscriptionsController,
            ApprovalPageController,
            StandingApprovalsPageController,
            ReviewPageController,
            BatchReviewPageController,
          ]
        : [],
      providers: [
        ApproverDirectory,
        DirectoryMembership,
        // The decision path reads the human's groups through this port (authz/people).
        { provide: UserDirectory, useExisting: DirectoryMembership },
        PushSubscriptions,
        PushEndpointPolicy,
        EmailChannel,
        PushChannel,
        ApproverChannels,
        NotificationJobs,
        NotifyApprovers,
        NotificationRounds,
        NotificationDeliveries,
        DeliverNotification,
        NotificationRouting,
        // Sampled reviews (issue 15): their reviewers are told as approvers are.
        ReviewNotificationJobs,
        NotifyReviewers,
        ReviewDeliveries,
        { provide: ApproverRouting, useExisting: NotificationRouting },
        ...(options.http ? [ApprovalPage, StandingApprovalsPage, ReviewPage, BatchReviewPage, DemoDirectorySeeder, ApproverPasskeys] : []),
        ...(options.workers ? [NotificationRoundProcessor, NotificationDeliveryProcessor, ReviewNotificationProcessor] : []),
      ],
      exports: [ApproverRouting, UserDirectory],
    };
  }
}
