import { ApprovalLifecycle1763900000000 } from './1763900000000-approval-lifecycle';
import { Authorization1763910000000 } from './1763910000000-authorization';
import { Notifications1763920000000 } from './1763920000000-notifications';
import { AuditChain1763930000000 } from './1763930000000-audit-chain';
import { CibaClients1763940000000 } from './1763940000000-ciba-clients';
import { OpenIdCiba1763950000000 } from './1763950000000-openid-ciba';
import { ApprovalObligationSets1764000000000 } from './1764000000000-approval-obligation-sets';
import { UsedClientAssertions1764010000000 } from './1764010000000-used-client-assertions';
import { CallbackIdempotencyKey1764020000000 } from './1764020000000-callback-idempotency-key';
import { ToolCatalogue1764030000000 } from './1764030000000-tool-catalogue';
import { PushSubscriptionsPerApprover1764045000000 } from './1764045000000-push-subscriptions-per-approver';
import { ApprovalReevaluation1764050000000 } from './1764050000000-approval-reevaluation';
import { PersonEntitlements1764060000000 } from './1764060000000-person-entitlements';
import { PersonStatus1764066000000 } from './1764066000000-person-status';
import { Resources1764075000000 } from './1764075000000-resources';
import { PendingByCreation1764090000000 } from './1764090000000-pending-by-creation';
import { Outbox1764100000000 } from './1764100000000-outbox';
import { StandingApprovals1764110000000 } from './1764110000000-standing-approvals';
import { NotificationRounds1764120000000 } from './1764120000000-notification-rounds';
import { CibaRequests1764130000000 } from './1764130000000-ciba-requests';
import { PersonAttributes1764140000000 } from './1764140000000-person-attributes';
import { NestedGroups1764141000000 } from './1764141000000-nested-groups';
import { PendingByAgent1764160000000 } from './1764160000000-pending-by-agent';
import { SampledReviews1764170000000 } from './1764170000000-sampled-reviews';
import { GraduatedAutonomy1764171000000 } from './1764171000000-graduated-autonomy';
import { Passkeys1764180000000 } from './1764180000000-passkeys';
import { PasskeyManagement1764190000000 } from './1764190000000-passkey-management';
import { ReviewDeliveries1764200000000 } from './1764200000000-review-deliveries';
import { BatchPasskeyChallenges1764230000000 } from './1764230000000-batch-passkey-challenges';
import { AuditSeals1764240000000 } from './1764240000000-audit-seals';
import { DropPendingByCreation1764250000000 } from './1764250000000-drop-pending-by-creation';
import { AuditContentHash1764260000000 } from './1764260000000-audit-content-hash';

/** Every migration, in order. Passed as classes so the same list works under jest and from dist/. */
export const migrations = [
  ApprovalLifecycle1763900000000,
  Authorization1763910000000,
  Notifications1763920000000,
  AuditChain1763930000000,
  CibaClients1763940000000,
  OpenIdCiba1763950000000,
  ApprovalObligationSets1764000000000,
  UsedClientAssertions1764010000000,
  CallbackIdempotencyKey1764020000000,
  ToolCatalogue1764030000000,
  PushSubscriptionsPerApprover1764045000000,
  ApprovalReevaluation1764050000000,
  PersonEntitlements1764060000000,
  PersonStatus1764066000000,
  Resources1764075000000,
  PendingByCreation1764090000000,
  Outbox1764100000000,
  StandingApprovals1764110000000,
  NotificationRounds1764120000000,
  CibaRequests1764130000000,
  PersonAttributes1764140000000,
  NestedGroups1764141000000,
  PendingByAgent1764160000000,
  SampledReviews1764170000000,
  GraduatedAutonomy1764171000000,
  Passkeys1764180000000,
  PasskeyManagement1764190000000,
  ReviewDeliveries1764200000000,
  BatchPasskeyChallenges1764230000000,
  AuditSeals1764240000000,
  DropPendingByCreation1764250000000,
  AuditContentHash1764260000000,
];
