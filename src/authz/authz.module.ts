/**
 * The authorization engine (policy decision point): POST /v1/authorize, delegations, and
 * versioned Cedar policy sets. It uses the approvals part to park calls and to reject parked
 * calls whose delegation was revoked; its core (./policy) is plain TypeScript.
 */
import { Global, Module } from '@nestjs/common';
import { RedeemReevaluation } from '../approvals/redeem-reevaluation.port';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentIdentityVerifier } from './agent-identity.verifier';
import { AuthorizeController } from './authorize.controller';
import { CatalogueStore } from './catalogue/catalogue-store.service';
import { CatalogueToolRow, ToolCatalogueRevision } from './catalogue/catalogue-tool.entity';
import { CatalogueController } from './catalogue/catalogue.controller';
import { ManageCatalogue } from './catalogue/manage-catalogue.usecase';
import { Authorize } from './authorize.usecase';
import { CallableTools } from './callable-tools.usecase';
import { Delegation } from './delegations/delegation.entity';
import { DelegationsController } from './delegations/delegations.controller';
import { Delegations } from './delegations/delegations.service';
import { PoliciesController } from './policies/policies.controller';
import { ActivePolicySet, PolicySet } from './policies/policy-set.entity';
import { PolicyStore } from './policies/policy-store.service';
import { PolicyRedeemReevaluation } from './redeem-reevaluation.service';
import { ManageResources } from './resources/manage-resources.usecase';
import { ResourceRow, ResourceTypeRow } from './resources/resource.entity';
import { ResourceRegistry } from './resources/resource-registry.service';
import { ResourcesController } from './resources/resources.controller';
import { RiskSignals } from './risk-signals.service';
import { AutonomyController } from './autonomy/autonomy.controller';
import { GraduatedAutonomy } from './autonomy/autonomy.service';
import { ReviewLinks } from './reviews/review-links.service';
import { SampledReview } from './reviews/sampled-review.entity';
import { SampledReviews } from './reviews/sampled-reviews.service';

// Global: the approvals lifecycle injects RedeemReevaluation (the port) without importing this part.
@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([Delegation, PolicySet, ActivePolicySet, CatalogueToolRow, ToolCatalogueRevision, ResourceTypeRow, ResourceRow, SampledReview]),
  ],
  controllers: [AuthorizeController, DelegationsController, PoliciesController, CatalogueController, ResourcesController, AutonomyController],
  providers: [
    Authorize,
    CallableTools,
    AgentIdentityVerifier,
    Delegations,
    PolicyStore,
    RiskSignals,
    CatalogueStore,
    ManageCatalogue,
    ResourceRegistry,
    ManageResources,
    PolicyRedeemReevaluation,
    SampledReviews,
    ReviewLinks,
    GraduatedAutonomy,
    { provide: RedeemReevaluation, useExisting: PolicyRedeemReevaluation },
  ],
  exports: [Authorize, AgentIdentityVerifier, RedeemReevaluation, SampledReviews, ReviewLinks],
})
export class AuthzModule {}
