import { Body, Controller, Get, Header, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, GatewayAuth, GatewayPrincipal, Public } from '../common/auth/auth.decorators';
import { parseInput } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiGatewayAuth, ApiJsonBody, ApiPublic, ApiSuccess } from '../common/openapi/openapi.decorators';
import { authZenMetadata, EVALUATION_PATH, EVALUATIONS_PATH, METADATA_PATH } from './authzen-metadata';
import { evaluationSchema, evaluationsSchema, MAX_EVALUATIONS } from './authzen.schema';
import { EvaluateAccess } from './evaluate-access.usecase';

const DECISION = { type: 'object', required: ['decision'], properties: { decision: { type: 'boolean' }, context: { type: 'object' } } };

/** OpenID AuthZEN Authorization API 1.0: the same decisions as /v1/authorize, in AuthZEN's shapes. */
@ApiTags('AuthZEN')
@Controller()
export class AuthZenController {
  constructor(
    private readonly evaluate: EvaluateAccess,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get(METADATA_PATH.slice(1))
  @Public()
  @ApiPublic()
  @ApiOperation({ summary: 'AuthZEN PDP metadata (Authorization API 1.0 §9)' })
  @ApiSuccess(200, 'policy_decision_point, access_evaluation_endpoint, access_evaluations_endpoint, supported_obligations')
  @Header('Cache-Control', 'public, max-age=300')
  metadata() {
    return authZenMetadata(this.config.PUBLIC_URL);
  }

  @Post(EVALUATION_PATH.slice(1))
  @GatewayAuth()
  @HttpCode(200)
  @ApiOperation({ summary: 'AuthZEN Access Evaluation (§6): one tool call; a deny and a call parked for approval are `decision: false` with 200' })
  @ApiGatewayAuth()
  @ApiJsonBody('AuthZenEvaluationRequest', evaluationSchema)
  @ApiSuccess(200, 'A Decision: `{decision, context?}`; a parked call carries a `step-up` obligation with its `auth_req_id`', DECISION)
  single(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown) {
    return this.evaluate.evaluation(gateway, parseInput(evaluationSchema, body));
  }

  @Post(EVALUATIONS_PATH.slice(1))
  @GatewayAuth()
  @HttpCode(200)
  @ApiOperation({
    summary: `AuthZEN Access Evaluations (§7): up to ${MAX_EVALUATIONS} members with top-level defaults; execute_all, deny_on_first_deny or permit_on_first_permit`,
  })
  @ApiGatewayAuth()
  @ApiJsonBody('AuthZenEvaluationsRequest', evaluationsSchema)
  @ApiSuccess(200, '`{evaluations: [Decision…]}` in request order (shorter when a short-circuiting semantic stops); without members, one Decision', {
    type: 'object',
    properties: { evaluations: { type: 'array', items: DECISION } },
  })
  batch(@CurrentPrincipal() gateway: GatewayPrincipal, @Body() body: unknown) {
    return this.evaluate.evaluations(gateway, parseInput(evaluationsSchema, body));
  }
}
