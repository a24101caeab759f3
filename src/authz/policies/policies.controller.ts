import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { InvalidRequest } from '../../common/errors/protocol-errors';
import { parseInput } from '../../common/validation';
import { ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { PolicySet } from './policy-set.entity';
import { PolicyStore } from './policy-store.service';
import { publishPolicySetSchema } from './publish-policy-set.command';

const view = (p: PolicySet, active: number) => ({
  version: p.version,
  active: p.version === active,
  description: p.description,
  policies: p.policies,
  tool_categories: p.toolCategories,
  published_at: p.publishedAt.toISOString(),
  published_by: p.publishedBy,
});

/** A version in the path: a positive Postgres int (a larger number would fail the query with a 500). */
function versionParam(raw: string): number {
  const version = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(version >= 1 && version <= 2_147_483_647)) {
    throw InvalidRequest.forFields([{ field: 'version', message: 'must be a version number from 1 to 2147483647' }]);
  }
  return version;
}

/** Admin API for policy sets: publish, list, read, activate (roll back = activate an older version). */
@ApiTags('policies')
@Controller('v1/policies')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class PoliciesController {
  constructor(private readonly store: PolicyStore) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Publish a new policy set version (and activate it, with `activate`)' })
  @ApiJsonBody('PublishPolicySetRequest', publishPolicySetSchema)
  @ApiError(400, 'invalid_policy: a policy does not validate; `errors` lists the validator messages')
  @ApiSuccess(201, 'The published version')
  async publish(@CurrentPrincipal() admin: GatewayPrincipal, @Body() body: unknown) {
    const input = parseInput(publishPolicySetSchema, body);
    const row = await this.store.publish(admin.tenantId, `admin:${admin.gatewayId}`, input);
    return view(row, await this.store.activeVersion(admin.tenantId));
  }

  @Get()
  @ApiOperation({ summary: 'List the published versions and which one is active' })
  @ApiSuccess(200, '`{active_version, versions}`')
  async list(@CurrentPrincipal() admin: GatewayPrincipal) {
    const active = await this.store.activeVersion(admin.tenantId);
    return { active_version: active, versions: (await this.store.list(admin.tenantId)).map((p) => view(p, active)) };
  }

  @Get(':version')
  @ApiOperation({ summary: 'Read one published version' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The version')
  async get(@CurrentPrincipal() admin: GatewayPrincipal, @Param('version') raw: string) {
    const version = versionParam(raw);
    return view(await this.store.get(admin.tenantId, version), await this.store.activeVersion(admin.tenantId));
  }

  @Post(':version/activate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Activate a published version (rolling back is activating an older one)' })
  @ApiError(400, 'invalid_request: no published version by that number')
  @ApiSuccess(200, '`{version, previous}`')
  activate(@CurrentPrincipal() admin: GatewayPrincipal, @Param('version') raw: string) {
    return this.store.activate(admin.tenantId, versionParam(raw), `admin:${admin.gatewayId}`);
  }
}
