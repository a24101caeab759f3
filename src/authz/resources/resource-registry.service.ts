/**
 * The resources a tenant registers (Postgres is the truth): their declared types, which are part
 * of the tenant's Cedar schema and so change through the catalogue's schema change (one revision,
 * one lock with policy activation, the active set re-validated, every instance recompiling), and
 * the resources themselves, which are data: a change to one is announced on the bus so every
 * instance drops the tenant's cached resources at once, and a cached answer is trusted for at
 * most LOOKUP_CACHE_MS if that message is lost.
 */
import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../../audit/audit-log.service';
import { Conflict, InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { RedisBus } from '../../common/redis/redis-bus.service';
import { CatalogueGuard, CatalogueStore } from '../catalogue/catalogue-store.service';
import { UserDirectory } from '../people/user-directory.port';
import { ResourceFacts } from '../policy/cedar-schema';
import { ResourceRow, ResourceTypeRow } from './resource.entity';
import { convertAttributes, RESERVED_TYPE_NAMES, ResourceTypeDecl, TYPE_NAME, typeKey } from './resource-schema';
import { DeclareResourceType, RegisterResource } from './resources.commands';

export const RESOURCES_CHANGED = 'resources-changed';
/** How long a cached resource is trusted if an invalidation message is lost. */
const LOOKUP_CACHE_MS = 1000;
/** Resources (and unregistered ids) cached per tenant before the tenant's cache is dropped and refilled. */
const MAX_PER_TENANT = 50_000;
const MAX_TYPES = 100;

/** A registered resource as decisions read it, without its owner's directory facts (those have their own cache). */
type Registered = Omit<ResourceFacts, 'owner_user'>;

export function checkTypeName(name: string, field = 'name'): string {
  if (!TYPE_NAME.test(name)) throw InvalidRequest.forFields([{ field, message: `must be a Cedar entity type name matching ${TYPE_NAME.source}` }]);
  if (RESERVED_TYPE_NAMES.has(name)) throw InvalidRequest.forFields([{ field, message: `is reserved: the base schema or Cedar already uses "${name}"` }]);
  return name;
}

@Injectable()
export class ResourceRegistry implements OnModuleInit {
  private readonly tenants = new Map<string, Map<string, { at: number; resource: Registered | null }>>();
  /** Bumped on every invalidation, so a read that raced a change is not cached. */
  private generation = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly bus: RedisBus,
    private readonly catalogue: CatalogueStore,
    private readonly users: UserDirectory,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(RESOURCES_CHANGED, (m) => this.invalidate((m as { tenantId?: string }).tenantId));
    // A type's declaration converts its resources' attributes (a long may become a decimal).
    this.catalogue.onChange((tenantId) => this.invalidate(tenantId));
  }

  private invalidate(tenantId?: string): void {
    this.generation++;
    if (typeof tenantId === 'string') this.tenants.delete(tenantId);
    else this.tenants.clear();
  }

  // ---- resource types (schema) ----

  async types(tenantId: string): Promise<ResourceTypeRow[]> {
    return this.dataSource.manager.find(ResourceTypeRow, { where: { tenantId }, order: { name: 'ASC' } });
  }

  async type(tenantId: string, name: string): Promise<ResourceTypeRow> {
    const row = await this.dataSource.manager.findOne(ResourceTypeRow, { where: { tenantId, name } });
    if (!row) throw new NotFound(`no resource type "${name}"`);
    return row;
  }

  /**
   * Declares or replaces a type. Refused (nothing written) when a registered resource of the type
   * would not satisfy the new declaration, or when `guard` refuses the resulting schema.
   */
  async declareType(
    tenantId: string,
    name: string,
    input: DeclareResourceType,
    by: string,
    guard: CatalogueGuard,
  ): Promise<{ created: boolean; revision: number }> {
    const decl: ResourceTypeDecl = { name, attributes: input.attributes };
    return this.catalogue.change(tenantId, by, guard, async (m) => {
      const others = (await m.find(ResourceTypeRow, { where: { tenantId }, select: { name: true } })).map((t) => t.name).filter((n) => n !== name);
      const twin = others.find((n) => typeKey(n) === typeKey(name));
      if (twin)
        throw InvalidRequest.forFields([
          { field: 'name', message: `is too close to the declared type "${twin}" (a gateway's resource.type is matched ignoring case, "_" and "-")` },
        ]);
      if (others.length >= MAX_TYPES) throw InvalidRequest.forFields([{ field: 'name', message: `a tenant declares at most ${MAX_TYPES} resource types` }]);
      // The upsert takes the type's row lock, so resources being written against the old declaration commit first.
      const [{ created }] = await m.query(
        `INSERT INTO resource_types (tenant_id, name, attributes, declared_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, name) DO UPDATE SET attributes = EXCLUDED.attributes, declared_at = now(), declared_by = EXCLUDED.declared_by
         RETURNING (xmax = 0) AS created`,
        [tenantId, name, JSON.stringify(input.attributes), by],
      );
      if (!created) await this.checkResourcesUnder(m, tenantId, decl);
      return { created, event: { type: created ? 'resource_type.declared' : 'resource_type.replaced', data: { name, attributes: input.attributes } } };
    });
  }

  /** Every registered resource of the type must still satisfy it; the first that does not is named. */
  private async checkResourcesUnder(m: EntityManager, tenantId: string, decl: ResourceTypeDecl): Promise<void> {
    const rows: { id: string; attributes: Record<string, unknown> }[] = await m.query(
      `SELECT id, attributes FROM resources WHERE tenant_id = $1 AND type = $2 ORDER BY id`,
      [tenantId, decl.name],
    );
    for (const row of rows) {
      const converted = convertAttributes(decl, row.attributes);
      if ('problems' in converted) {
        throw InvalidRequest.forFields(
          converted.problems.map((p) => ({ field: p.field, message: `would not hold for the registered resource "${row.id}": it ${p.message}` })),
        );
      }
    }
  }

  async deleteType(tenantId: string, name: string, by: string, guard: CatalogueGuard): Promise<void> {
    await this.catalogue.change(tenantId, by, guard, async (m) => {
      const [{ count }] = await m.query(`SELECT count(*)::int AS count FROM resources WHERE tenant_id = $1 AND type = $2`, [tenantId, name]);
      if (count > 0)
        throw new Conflict('resource_type_in_use', `${count} registered resource(s) are of type "${name}": delete them first`, {
          field: 'name',
          resources: count,
        });
      const removed = await m.delete(ResourceTypeRow, { tenantId, name });
      if (!removed.affected) throw new NotFound(`no resource type "${name}"`);
      return { created: false, event: { type: 'resource_type.deleted', data: { name } } };
    });
  }

  // ---- resources (data) ----

  async list(tenantId: string, query: { type?: string; after?: string; limit?: number }): Promise<ResourceRow[]> {
    const qb = this.dataSource.manager
      .createQueryBuilder(ResourceRow, 'r')
      .where('r.tenant_id = :tenantId', { tenantId })
      .orderBy('r.id', 'ASC')
      .take(query.limit ?? 100);
    if (query.type !== undefined) qb.andWhere('r.type = :type', { type: query.type });
    if (query.after !== undefined) qb.andWhere('r.id > :after', { after: query.after });
    return qb.getMany();
  }

  async get(tenantId: string, id: string): Promise<ResourceRow> {
    const row = await this.dataSource.manager.findOne(ResourceRow, { where: { tenantId, id } });
    if (!row) throw new NotFound(`no resource "${id}"`);
    return row;
  }

  /** Registers or replaces a resource; its attributes must satisfy its type's declaration (400 naming the member). */
  async put(tenantId: string, id: string, input: RegisterResource, by: string): Promise<{ created: boolean; resource: ResourceRow }> {
    const result = await this.dataSource.transaction(async (m) => {
      // FOR SHARE: a concurrent change of the declaration waits for this write (and checks it).
      const [type]: { name: string; attributes: ResourceTypeDecl['attributes'] }[] = await m.query(
        `SELECT name, attributes FROM resource_types WHERE tenant_id = $1 AND name = $2 FOR SHARE`,
        [tenantId, input.type],
      );
      if (!type)
        throw InvalidRequest.forFields([
          { field: 'type', message: `no resource type "${input.type}" is declared (PUT /v1/resource-types/${input.type} first)` },
        ]);
      const converted = convertAttributes(type, input.attributes);
      if ('problems' in converted) throw InvalidRequest.forFields(converted.problems);
      const [row] = await m.query(
        `INSERT INTO resources (tenant_id, id, type, classification, environment, owner, attributes, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, id) DO UPDATE SET type = EXCLUDED.type, classification = EXCLUDED.classification, environment = EXCLUDED.environment,
           owner = EXCLUDED.owner, attributes = EXCLUDED.attributes, updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING (xmax = 0) AS created`,
        [tenantId, id, input.type, input.classification, input.environment, input.owner, JSON.stringify(input.attributes), by],
      );
      const created = row.created as boolean;
      await this.audit.append(m, {
        tenantId,
        type: created ? 'resource.registered' : 'resource.updated',
        actor: by,
        data: { id, type: input.type, classification: input.classification, environment: input.environment, owner: input.owner, attributes: input.attributes },
      });
      return created;
    });
    await this.changed(tenantId);
    return { created: result, resource: await this.get(tenantId, id) };
  }

  async delete(tenantId: string, id: string, by: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const [rows] = await m.query(`DELETE FROM resources WHERE tenant_id = $1 AND id = $2 RETURNING type`, [tenantId, id]);
      if (!rows.length) throw new NotFound(`no resource "${id}"`);
      await this.audit.append(m, { tenantId, type: 'resource.deleted', actor: by, data: { id, type: rows[0].type } });
    });
    await this.changed(tenantId);
  }

  /** After a committed change: drop the tenant's resources here at once, and on every other instance by the bus. */
  private async changed(tenantId: string): Promise<void> {
    this.invalidate(tenantId);
    await this.bus.publish(RESOURCES_CHANGED, { tenantId });
  }

  // ---- the decision's lookup ----

  /**
   * The call's resource as registered, by the envelope's `resource.id`; undefined when it names
   * none or one the tenant never registered (the decision then has only the envelope's facts).
   * A `resource.type` that names another type than the registered one is a 400 naming it: the
   * gateway and the registry disagree about what the call touches, and neither is guessed at.
   */
  async lookup(tenantId: string, resource: { id?: string; type?: string } | undefined): Promise<ResourceFacts | undefined> {
    if (!resource?.id) return undefined;
    const found = await this.registered(tenantId, resource.id);
    if (!found) return undefined;
    if (resource.type !== undefined && typeKey(resource.type) !== typeKey(found.type)) {
      throw InvalidRequest.forFields([{ field: 'resource.type', message: `must be "${found.type}": resource "${found.id}" is registered with that type` }]);
    }
    const { user } = await this.users.person(tenantId, found.owner);
    return { ...found, owner_user: user };
  }

  private async registered(tenantId: string, id: string): Promise<Registered | null> {
    const cached = this.tenants.get(tenantId)?.get(id);
    if (cached && Date.now() - cached.at <= LOOKUP_CACHE_MS) return cached.resource;
    const generation = this.generation;
    const [row]: (Pick<ResourceRow, 'id' | 'type' | 'classification' | 'environment' | 'owner' | 'attributes'> & {
      declared: ResourceTypeDecl['attributes'];
    })[] = await this.dataSource.query(
      `SELECT r.id, r.type, r.classification, r.environment, r.owner, r.attributes, t.attributes AS declared
           FROM resources r JOIN resource_types t ON t.tenant_id = r.tenant_id AND t.name = r.type
          WHERE r.tenant_id = $1 AND r.id = $2`,
      [tenantId, id],
    );
    let resource: Registered | null = null;
    if (row) {
      const converted = convertAttributes({ name: row.type, attributes: row.declared }, row.attributes);
      // Written and re-declared only when they agree; a disagreement here is a bug, not an input.
      if ('problems' in converted)
        throw new Error(`resource ${tenantId}/${id} does not satisfy its type: ${converted.problems[0].field} ${converted.problems[0].message}`);
      resource = {
        id: row.id,
        type: row.type,
        classification: row.classification,
        environment: row.environment,
        owner: row.owner,
        attributes: converted.value,
      };
    }
    if (generation === this.generation) {
      let entries = this.tenants.get(tenantId);
      if (!entries || entries.size >= MAX_PER_TENANT) this.tenants.set(tenantId, (entries = new Map()));
      entries.set(id, { at: Date.now(), resource });
    }
    return resource;
  }
}

/** The facts a registered resource sets, over what the envelope said: the registry is the tenant's own word. */
export function registeredResourceFacts(resource: ResourceFacts | undefined) {
  if (!resource) return {};
  return {
    resource_id: resource.id,
    resource_type: resource.type,
    resource_classification: resource.classification,
    environment: resource.environment,
    resource,
  };
}
