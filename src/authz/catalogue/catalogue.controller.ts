import { Body, Controller, Delete, Get, HttpCode, Param, Put, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { InvalidRequest } from '../../common/errors/protocol-errors';
import { parseInput } from '../../common/validation';
import { ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess } from '../../common/openapi/openapi.decorators';
import { CatalogueStore } from './catalogue-store.service';
import { putServerToolsSchema, SERVER_NAME } from './catalogue.commands';
import { ManageCatalogue, toolView } from './manage-catalogue.usecase';

function serverParam(server: string): string {
  if (!SERVER_NAME.test(server)) throw InvalidRequest.forFields([{ field: 'server', message: `must match ${SERVER_NAME.source}` }]);
  return server;
}
const actorOf = (admin: GatewayPrincipal) => `admin:${admin.gatewayId}`;

/** The tool catalogue's admin API (scope countersign:admin): each MCP server's tools and their input schemas. */
@ApiTags('tool catalogue')
@Controller('v1/catalogue')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class CatalogueController {
  constructor(
    private readonly store: CatalogueStore,
    private readonly manage: ManageCatalogue,
  ) {}

  @Put('servers/:server')
  @ApiOperation({ summary: "Register or replace an MCP server's tools from its `tools/list` result" })
  @ApiJsonBody('PutServerToolsRequest', putServerToolsSchema)
  @ApiError(
    400,
    'invalid_request: a tool or its inputSchema is malformed; invalid_policy: the active policy set would not validate against the new catalogue (`errors` lists the validator messages)',
  )
  @ApiSuccess(200, 'Replaced: `{server, revision, tools}`')
  @ApiSuccess(201, 'Registered: `{server, revision, tools}`')
  async putServer(
    @CurrentPrincipal() admin: GatewayPrincipal,
    @Param('server') server: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = parseInput(putServerToolsSchema, body);
    const { created, view } = await this.manage.putServer(admin.tenantId, serverParam(server), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return view;
  }

  @Get()
  @ApiOperation({ summary: 'The whole catalogue: every server and its tools' })
  @ApiSuccess(200, '`{revision, servers: [{server, tools}]}`')
  async list(@CurrentPrincipal() admin: GatewayPrincipal) {
    const { revision, servers } = await this.store.servers(admin.tenantId);
    return { revision, servers: servers.map((s) => ({ server: s.server, tools: s.tools.map(toolView) })) };
  }

  @Get('servers/:server')
  @ApiOperation({ summary: "One server's tools, with the Cedar type policies see for each tool's input" })
  @ApiErrors(400, 404)
  @ApiSuccess(200, '`{server, tools}`')
  async getServer(@CurrentPrincipal() admin: GatewayPrincipal, @Param('server') server: string) {
    return { server, tools: (await this.store.server(admin.tenantId, serverParam(server))).map(toolView) };
  }

  @Delete('servers/:server')
  @HttpCode(204)
  @ApiOperation({ summary: "Remove a server's tools from the catalogue" })
  @ApiError(400, 'invalid_policy: the active policy set refers to one of its tools')
  @ApiErrors(404)
  @ApiSuccess(204, 'Deleted')
  async deleteServer(@CurrentPrincipal() admin: GatewayPrincipal, @Param('server') server: string) {
    await this.manage.deleteServer(admin.tenantId, serverParam(server), actorOf(admin));
  }
}
