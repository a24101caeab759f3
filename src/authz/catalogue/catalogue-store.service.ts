/**
 * The tool catalogue: each tenant's MCP servers, their tools and input schemas, and its declared
 * resource types (authz/resources; Postgres is the truth), and the compiled form the decision
 * path uses (tenant-schema.ts), cached per tenant and revision. A change is announced on the bus
 * so every instance drops its compiled copy at once; the revision check in PolicyStore catches a
 * lost message within a second.
 */
import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../../audit/audit-log.service';
import { NotFound } from '../../common/errors/protocol-errors';
import { RedisBus } from '../../common/redis/redis-bus.service';
import { CatalogueToolRow, ToolCatalogueRevision } from './catalogue-tool.entity';
import { ResourceTypeRow } from '../resources/resource.entity';
import { CatalogueToolInput } from './catalogue.commands';
import { tenantCatalogue, TenantCatalogue } from './tenant-schema';

export const CATALOGUE_CHANGED = 'catalogue-changed';

/** Checks a candidate catalogue inside the change's transaction; throws to refuse the change. */
export type CatalogueGuard = (manager: EntityManager, catalogue: TenantCatalogue) => Promise<void>;

@Injectable()
export class CatalogueStore implements OnModuleInit {
  private readonly compiled = new Map<string, TenantCatalogue>();
  private readonly listeners: ((tenantId: string) => void)[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly bus: RedisBus,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(CATALOGUE_CHANGED, (m) => {
      const { tenantId } = m as { tenantId: string };
      this.compiled.delete(tenantId);
      for (const listener of this.listeners) listener(tenantId);
    });
  }

  /** Called on this instance whenever any instance changes a tenant's catalogue. */
  onChange(listener: (tenantId: string) => void): void {
    this.listeners.push(listener);
  }

  /** The tenant's compiled catalogue at its current revision, or undefined when it never had one. */
  async current(tenantId: string, manager: EntityManager = this.dataSource.manager): Promise<TenantCatalogue | undefined> {
    const row = await manager.findOne(ToolCatalogueRevision, { where: { tenantId } });
    if (!row) return undefined;
    const revision = Number(row.revision);
    const cached = this.compiled.get(tenantId);
    if (cached?.revision === revision) return cached;
    const catalogue = await this.build(manager, tenantId, revision);
    this.compiled.set(tenantId, catalogue);
    return catalogue;
  }

  private async build(manager: EntityManager, tenantId: string, revision: number): Promise<TenantCatalogue> {
    // One after the other: inside a change, both run on the transaction's one connection.
    const rows = await manager.find(CatalogueToolRow, { where: { tenantId }, select: { server: true, name: true, inputSchema: true, annotations: true } });
    const types = await manager.find(ResourceTypeRow, { where: { tenantId }, select: { name: true, attributes: true } });
    return tenantCatalogue(
      revision,
      rows.map((r) => ({ server: r.server, name: r.name, inputSchema: r.inputSchema, annotations: r.annotations })),
      types.map((t) => ({ name: t.name, attributes: t.attributes })),
    );
  }

  async servers(tenantId: string): Promise<{ revision: number; servers: { server: string; tools: CatalogueToolRow[] }[] }> {
    const [revision, rows] = await Promise.all([
      this.dataSource.manager.findOne(ToolCatalogueRevision, { where: { tenantId } }),
      this.dataSource.manager.find(CatalogueToolRow, { where: { tenantId }, order: { server: 'ASC', name: 'ASC' } }),
    ]);
    const servers = new Map<string, CatalogueToolRow[]>();
    for (const row of rows) servers.set(row.server, [...(servers.get(row.server) ?? []), row]);
    return { revision: Number(revision?.revision ?? 0), servers: [...servers].map(([server, tools]) => ({ server, tools })) };
  }

  async server(tenantId: string, server: string): Promise<CatalogueToolRow[]> {
    const tools = await this.dataSource.manager.find(CatalogueToolRow, { where: { tenantId, server }, order: { name: 'ASC' } });
    if (!tools.length) throw new NotFound(`no server "${server}" in the catalogue`);
    return tools;
  }

  /** Replaces one server's tools (a `tools/list` import); `guard` may refuse the result. */
  async putServer(
    tenantId: string,
    server: string,
    tools: CatalogueToolInput[],
    by: string,
    guard: CatalogueGuard,
  ): Promise<{ created: boolean; revision: number }> {
    return this.change(tenantId, by, guard, async (m) => {
      const removed = await m.delete(CatalogueToolRow, { tenantId, server });
      if (tools.length) {
        await m.query(
          `INSERT INTO catalogue_tools (tenant_id, server, name, title, description, input_schema, annotations, registered_by)
           SELECT $1, $2, t->>'name', t->>'title', t->>'description', t->'inputSchema', t->'annotations', $3 FROM jsonb_array_elements($4::jsonb) t`,
          [tenantId, server, by, JSON.stringify(tools)],
        );
      }
      const created = !removed.affected;
      return {
        created,
        event: { type: created ? 'catalogue.server_registered' : 'catalogue.server_replaced', data: { server, tools: tools.map((t) => t.name) } },
      };
    });
  }

  async deleteServer(tenantId: string, server: string, by: string, guard: CatalogueGuard): Promise<void> {
    await this.change(tenantId, by, guard, async (m) => {
      const removed = await m.delete(CatalogueToolRow, { tenantId, server });
      if (!removed.affected) throw new NotFound(`no server "${server}" in the catalogue`);
      return { created: false, event: { type: 'catalogue.server_deleted', data: { server } } };
    });
  }

  /**
   * One change of the tenant's schema (its tools here, its resource types in authz/resources):
   * serialised per tenant with policy activation (the same advisory lock), a new revision, the
   * guard on the resulting catalogue, and the audit event, in one transaction.
   */
  async change(
    tenantId: string,
    by: string,
    guard: CatalogueGuard,
    mutate: (m: EntityManager) => Promise<{ created: boolean; event: { type: string; data: Record<string, unknown> } }>,
  ): Promise<{ created: boolean; revision: number }> {
    const result = await this.dataSource.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [catalogueLock(tenantId)]);
      const [{ revision }] = await m.query(
        `INSERT INTO tool_catalogues (tenant_id, revision, updated_at, updated_by) VALUES ($1, 1, now(), $2)
         ON CONFLICT (tenant_id) DO UPDATE SET revision = tool_catalogues.revision + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING revision`,
        [tenantId, by],
      );
      const { created, event } = await mutate(m);
      await guard(m, await this.build(m, tenantId, Number(revision)));
      await this.audit.append(m, { tenantId, type: event.type, actor: by, data: { ...event.data, revision: Number(revision) } });
      return { created, revision: Number(revision) };
    });
    this.compiled.delete(tenantId);
    for (const listener of this.listeners) listener(tenantId);
    await this.bus.publish(CATALOGUE_CHANGED, { tenantId, revision: result.revision });
    return result;
  }
}

/** Held by a catalogue change and by a policy activation, so neither validates against what the other is replacing. */
export const catalogueLock = (tenantId: string) => `policy-catalogue:${tenantId}`;
