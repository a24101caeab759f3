import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ADMIN_SCOPE, CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../../common/auth/auth.decorators';
import { InvalidRequest } from '../../common/errors/protocol-errors';
import { keysetPageQuery, parseInput } from '../../common/validation';
import { ApiError, ApiErrors, ApiGatewayAuth, ApiJsonBody, ApiSuccess, ApiZodQuery } from '../../common/openapi/openapi.decorators';
import { CibaClientRegistry, cibaClientView } from './ciba-client-registry.service';
import { CLIENT_ID, cibaClientInputSchema } from './ciba-client.commands';

function checkClientId(value: string): string {
  if (!CLIENT_ID.test(value)) throw InvalidRequest.forFields([{ field: 'client_id', message: 'must be 1 to 200 printable ASCII characters without spaces' }]);
  return value;
}

const actorOf = (admin: GatewayPrincipal) => `admin:${admin.gatewayId}`;

/** The CIBA client registry's admin API (scope countersign:admin), scoped to the caller's tenant. */
@ApiTags('CIBA clients')
@Controller('v1/ciba-clients')
@GatewayAuth(ADMIN_SCOPE)
@ApiGatewayAuth(ADMIN_SCOPE)
export class CibaClientsController {
  constructor(private readonly registry: CibaClientRegistry) {}

  /** 201 with the client_secret on creation with a secret method; 200 on update (with a secret only if this update issued one). */
  @Put(':client_id')
  @ApiOperation({
    summary: 'Register or replace a CIBA client',
    description:
      'RFC 7591 / CIBA metadata. With client_secret_basic or client_secret_post the server issues the secret: it is in the response ' +
      'that issued it (creation, or a change to a secret method) and never again.',
  })
  @ApiJsonBody('CibaClientInput', cibaClientInputSchema)
  @ApiError(409, 'client_id_taken: another tenant registered this client_id')
  @ApiSuccess(200, 'Replaced: the client (with client_secret only if this change issued one)')
  @ApiSuccess(201, 'Registered: the client, with client_secret for a secret method')
  async putClient(
    @CurrentPrincipal() admin: GatewayPrincipal,
    @Param('client_id') clientId: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = parseInput(cibaClientInputSchema, body);
    const { client, created, clientSecret } = await this.registry.put(admin.tenantId, checkClientId(clientId), input, actorOf(admin));
    reply.status(created ? 201 : 200);
    return cibaClientView(client, clientSecret);
  }

  @Post(':client_id/secret')
  @HttpCode(200)
  @ApiOperation({ summary: "Rotate a client's secret", description: 'The old secret stops working at once.' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The client with its new client_secret (shown once)')
  async rotateSecret(@CurrentPrincipal() admin: GatewayPrincipal, @Param('client_id') clientId: string) {
    const { client, clientSecret } = await this.registry.rotateSecret(admin.tenantId, checkClientId(clientId), actorOf(admin));
    return cibaClientView(client, clientSecret);
  }

  @Get()
  @ApiOperation({ summary: 'List CIBA clients, by client_id, a page at a time' })
  @ApiZodQuery(keysetPageQuery)
  @ApiSuccess(200, '`{clients, next_after}` (next_after is null on the last page)')
  async listClients(@CurrentPrincipal() admin: GatewayPrincipal, @Query() query: unknown) {
    const { after, limit } = parseInput(keysetPageQuery, query);
    const clients = await this.registry.list(admin.tenantId, after, limit);
    return { clients: clients.map((c) => cibaClientView(c)), next_after: clients.length === (limit ?? 100) ? clients[clients.length - 1].clientId : null };
  }

  @Get(':client_id')
  @ApiOperation({ summary: 'Read a CIBA client' })
  @ApiErrors(400, 404)
  @ApiSuccess(200, 'The client (never its secret)')
  async getClient(@CurrentPrincipal() admin: GatewayPrincipal, @Param('client_id') clientId: string) {
    return cibaClientView(await this.registry.get(admin.tenantId, checkClientId(clientId)));
  }

  @Delete(':client_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a CIBA client' })
  @ApiErrors(400, 404)
  @ApiSuccess(204, 'Deleted')
  async deleteClient(@CurrentPrincipal() admin: GatewayPrincipal, @Param('client_id') clientId: string) {
    await this.registry.delete(admin.tenantId, checkClientId(clientId), actorOf(admin));
  }
}
