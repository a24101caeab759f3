import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { CurrentPrincipal, GatewayAuth, GatewayPrincipal } from '../common/auth/auth.decorators';
import { parseInput } from '../common/validation';
import { AuditCheckpoints } from './audit-checkpoints.service';
import { AUDIT_COLUMNS, auditQuerySchema, auditWhere } from './audit-query';
import { AuditVerifier } from './audit-verifier.service';

/** Read-only access to the audit trail: a scope of its own, so that auditors need no admin rights. */
export const AUDIT_SCOPE = 'countersign:audit';
const EXPORT_PAGE = 1000;

@Controller('v1/audit')
@GatewayAuth(AUDIT_SCOPE)
export class AuditController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly verifier: AuditVerifier,
    private readonly checkpoints: AuditCheckpoints,
  ) {}

  /** Oldest first, `limit` at a time; `next_cursor` continues (null at the end). */
  @Get()
  async list(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown) {
    const { limit, cursor, ...filters } = parseInput(auditQuerySchema, query);
    const { where, params } = auditWhere(caller.tenantId, filters, cursor);
    const events = await this.dataSource.query(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where} ORDER BY id LIMIT ${limit + 1}`, params);
    const more = events.length > limit;
    const page = events.slice(0, limit);
    return { events: page, next_cursor: more ? page[page.length - 1].id : null };
  }

  /** The same filters, every matching event as JSON Lines, streamed page by page (constant memory). */
  @Get('export')
  async export(@CurrentPrincipal() caller: GatewayPrincipal, @Query() query: unknown, @Res() reply: FastifyReply) {
    const { limit: _limit, cursor, ...filters } = parseInput(auditQuerySchema, query);
    const dataSource = this.dataSource;
    async function* lines() {
      let after = cursor;
      for (;;) {
        const { where, params } = auditWhere(caller.tenantId, filters, after);
        const page = await dataSource.query(`SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where} ORDER BY id LIMIT ${EXPORT_PAGE}`, params);
        if (page.length) yield page.map((e: unknown) => JSON.stringify(e)).join('\n') + '\n';
        if (page.length < EXPORT_PAGE) return;
        after = page[page.length - 1].id;
      }
    }
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${caller.tenantId}.jsonl"`)
      .send(Readable.from(lines()));
  }

  /** Walks the caller's chain from its first event and checks it against the signed checkpoints. */
  @Get('verify')
  verify(@CurrentPrincipal() caller: GatewayPrincipal) {
    return this.verifier.verify(caller.tenantId);
  }

  /** The signed checkpoints of the caller's chain: keep copies elsewhere to verify against. */
  @Get('checkpoints')
  async listCheckpoints(@CurrentPrincipal() caller: GatewayPrincipal) {
    return { checkpoints: await this.checkpoints.list(caller.tenantId) };
  }
}
