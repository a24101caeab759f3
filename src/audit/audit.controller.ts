import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../common/auth/auth.decorators';
import { parseInput } from '../common/validation';
import { ApiGatewayAuth, ApiSuccess, ApiZodQuery } from '../common/openapi/openapi.decorators';
import { AuditCheckpoints } from './audit-checkpoints.service';
import { AuditEvents } from './audit-events.repository';
import { auditQuerySchema } from './audit-query';
import { AuditVerifier } from './audit-verifier.service';

/** Read-only access to the audit trail: a scope of its own, so that auditors need no admin rights. */
export const AUDIT_SCOPE = 'countersign:audit';

@ApiTags('audit')
@Controller('v1/audit')
@GatewayAuth(AUDIT_SCOPE)
@ApiGatewayAuth(AUDIT_SCOPE)
export class AuditController {
  constructor(
    private readonly events: AuditEvents,
    private readonly verifier: AuditVerifier,
    private readonly checkpoints: AuditCheckpoints,
  ) {}

  /** Oldest first, `limit` at a time; `next_cursor` continues (null at the end). */
  @Get()
  @ApiOperation({ summary: "Page through the caller's audit events, oldest first" })
  @ApiZodQuery(auditQuerySchema)
  @ApiSuccess(200, '`{events, next_cursor}` (next_cursor is null at the end)')
  async list(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown) {
    const { limit, cursor, ...filters } = parseInput(auditQuerySchema, query);
    const events = await this.events.page(caller.tenantId, filters, limit + 1, cursor);
    const more = events.length > limit;
    const page = events.slice(0, limit);
    return { events: page, next_cursor: more ? page[page.length - 1].id : null };
  }

  /** The same filters, every matching event as JSON Lines, streamed page by page (constant memory). */
  @Get('export')
  @ApiOperation({ summary: 'Every matching event as JSON Lines, streamed' })
  @ApiZodQuery(auditQuerySchema, { limit: 'Ignored: the export streams every matching event' })
  @ApiResponse({ status: 200, description: 'One event per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } })
  async export(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown, @Res() reply: FastifyReply) {
    const { limit: _limit, cursor, ...filters } = parseInput(auditQuerySchema, query);
    const events = this.events.all(caller.tenantId, filters, cursor);
    async function* lines() {
      for await (const page of events) yield page.map((e) => JSON.stringify(e)).join('\n') + '\n';
    }
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${caller.tenantId}.jsonl"`)
      .send(Readable.from(lines()));
  }

  /** Walks the caller's chain from its first event and checks it against the signed checkpoints. */
  @Get('verify')
  @ApiOperation({ summary: "Verify the caller's hash chain against its signed checkpoints" })
  @ApiSuccess(200, 'The verification result')
  verify(@CurrentPrincipal() caller: GatewayPrincipal) {
    return this.verifier.verify(caller.tenantId);
  }

  /** The signed checkpoints of the caller's chain: keep copies elsewhere to verify against. */
  @Get('checkpoints')
  @ApiOperation({ summary: "The signed checkpoints of the caller's chain" })
  @ApiSuccess(200, '`{checkpoints}`')
  async listCheckpoints(@CurrentPrincipal() caller: GatewayPrincipal) {
    return { checkpoints: await this.checkpoints.list(caller.tenantId) };
  }
}
