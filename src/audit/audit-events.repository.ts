import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AUDIT_COLUMNS, AUDIT_SOURCE, AuditQuery, auditWhere } from './audit-query';

type AuditFilters = Omit<AuditQuery, 'limit' | 'cursor'>;
/** One audit event as the API returns it (ids and sequence numbers as text: they are bigints). */
export type AuditEventRow = Record<string, unknown> & { id: string };

/** How many events one export query reads: the export streams page by page, in constant memory. */
const EXPORT_PAGE = 1000;

/** Reads a tenant's audit events for the query API; every query is scoped to the tenant given. */
@Injectable()
export class AuditEvents {
  constructor(private readonly dataSource: DataSource) {}

  /** Up to `limit` events after `cursor`, oldest first. */
  page(tenantId: string, filters: AuditFilters, limit: number, cursor?: string): Promise<AuditEventRow[]> {
    const { where, params } = auditWhere(tenantId, filters, cursor);
    return this.dataSource.query(`SELECT ${AUDIT_COLUMNS} FROM ${AUDIT_SOURCE} WHERE ${where} ORDER BY id LIMIT ${limit}`, params);
  }

  /** Every matching event after `cursor`, oldest first, read a page at a time. */
  async *all(tenantId: string, filters: AuditFilters, cursor?: string): AsyncGenerator<AuditEventRow[]> {
    let after = cursor;
    for (;;) {
      const page = await this.page(tenantId, filters, EXPORT_PAGE, after);
      if (page.length) yield page;
      if (page.length < EXPORT_PAGE) return;
      after = page[page.length - 1].id;
    }
  }
}
