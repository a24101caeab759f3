import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { id as idSchema, parseInput } from '../../common/validation';
import { ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { ManageResources, resourceTypeView, resourceView } from './manage-resources.usecase';
import { checkTypeName, ResourceRegistry } from './resource-registry.service';
import { declareResourceTypeSchema, listResourcesQuery, registerResourceSchema } from './resources.commands';
import { z } from 'zod';

const actorOf = (admin: GatewayPrincipal) => `admin:${admin.gatewayId}`;
const resourceId = (value: string) => parseInput(z.strictObject({ id: idSchema }), { id: value }).id;

/**
 * The tenant's resources (scope countersign:admin): the types it declares (Cedar entity types of
 * its schema, read by policies as `context.<Type>`) and the resources it registers of them.
 */
@ApiTags('resources')
@Controller('v1')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class ResourcesController {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly manage: ManageResources,
  ) {}

  @Put('resource-types/:name')
  @ApiOperation({ summary: 'Declare or replace a resource type (a Cedar entity type with classification, environment, owner and the declared attributes)' })
  @ApiJsonBody('DeclareResourceTypeRequest', declareResourceTypeSchema)
  @ApiError(
    400,
    'invalid_request: a bad name or attribute, or a registered resource of the type would not satisfy the new declaration (`field` names the attribute); invalid_policy: the active policy set would not validate against the new schema (`errors` lists the validator messages)',
  )
  @ApiSuccess(200, 'Replaced: `{name, attributes, context_member, cedar_shape, revision, …}`')
  @ApiSuccess(201, 'Declared: `{name, attributes, context_member, cedar_shape, revision, …}`')
  async declareType(
    @CurrentPrincipal() admin: GatewayPrincipal,
    @Param('name') name: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = parseInput(declareResourceTypeSchema, body);
    const { created, view } = await this.manage.declareType(admin.tenantId, checkTypeName(name), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return view;
  }

  @Get('resource-types')
  @ApiOperation({ summary: "The tenant's resource types" })
  @ApiSuccess(200, '`{types}`')
  async listTypes(@CurrentPrincipal() admin: GatewayPrincipal) {
    return { types: (await this.registry.types(admin.tenantId)).map(resourceTypeView) };
  }

  @Get('resource-types/:name')
  @ApiOperation({ summary: 'One resource type, with the Cedar shape of its entities' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The type')
  async getType(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    return resourceTypeView(await this.registry.type(admin.tenantId, checkTypeName(name)));
  }

  @Delete('resource-types/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a resource type (it must have no registered resources)' })
  @ApiError(400, 'invalid_policy: the active policy set reads the type')
  @ApiError(409, 'resource_type_in_use: resources of the type are registered')
  @ApiErrors(404)
  @ApiSuccess(204, 'Deleted')
  async deleteType(@CurrentPrincipal() admin: GatewayPrincipal, @Param('name') name: string) {
    await this.manage.deleteType(admin.tenantId, checkTypeName(name), actorOf(admin));
  }

  @Put('resources/:id')
  @ApiOperation({ summary: 'Register or replace a resource: its type, classification, environment, owner and declared attributes' })
  @ApiJsonBody('RegisterResourceRequest', registerResourceSchema)
  @ApiError(400, 'invalid_request: an undeclared type, or an attribute missing, undeclared or of the wrong type (`field` names it: `attributes.pages`)')
  @ApiSuccess(200, 'Replaced: the resource')
  @ApiSuccess(201, 'Registered: the resource')
  async put(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseInput(registerResourceSchema, body);
    const { created, view } = await this.manage.put(admin.tenantId, resourceId(id), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return view;
  }

  @Get('resources')
  @ApiOperation({ summary: 'List resources by id, a page at a time, optionally of one type' })
  @ApiZodQuery(listResourcesQuery)
  @ApiSuccess(200, '`{resources, next_after}` (next_after is null on the last page)')
  async list(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    const q = parseInput(listResourcesQuery, query);
    const rows = await this.registry.list(admin.tenantId, q);
    return { resources: rows.map(resourceView), next_after: rows.length === (q.limit ?? 100) ? rows[rows.length - 1].id : null };
  }

  @Get('resources/:id')
  @ApiOperation({ summary: 'Read a resource' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The resource')
  async get(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    return resourceView(await this.registry.get(admin.tenantId, resourceId(id)));
  }

  @Delete('resources/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a resource' })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Deleted')
  async delete(@CurrentPrincipal() admin: GatewayPrincipal, @Param('id') id: string) {
    await this.registry.delete(admin.tenantId, resourceId(id), actorOf(admin));
  }
}
