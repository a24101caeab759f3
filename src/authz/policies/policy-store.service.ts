import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../../audit/audit-log.service';
import { InvalidPolicy, InvalidRequest, NotFound } from '../../common/errors/protocol-errors';
import { RedisBus } from '../../common/redis/redis-bus.service';
import { CatalogueStore, catalogueLock } from '../catalogue/catalogue-store.service';
import { TenantCatalogue } from '../catalogue/tenant-schema';
import { CatalogueSchema, PolicyEngine } from '../policy/policy-engine';
import { STARTER_POLICIES } from '../policy/starter-policies';
import { ActivePolicySet, PolicySet } from './policy-set.entity';
import { PublishPolicySetInput } from './publish-policy-set.command';

const ACTIVATED = 'policy-activated';
/** How stale an instance's view of the active version may get if an activation message is lost. */
const RECHECK_MS = 1000;

export interface ActivePolicy {
  /** 0 is the built-in starter set, in force until a tenant activates a version of its own. */
  version: number;
  engine: PolicyEngine;
  toolCategories: Record<string, string>;
  /** The tenant's tool catalogue the engine was compiled against (absent: the tenant has none). */
  catalogue?: TenantCatalogue;
}

/** A catalogue as the engine compiles (validates) against it. */
function catalogueSchema(catalogue: TenantCatalogue | undefined): CatalogueSchema | undefined {
  return catalogue && { schema: catalogue.schema };
}

let starter: PolicyEngine | undefined;
function starterEngine(): PolicyEngine {
  if (!starter) {
    const compiled = PolicyEngine.compile(STARTER_POLICIES);
    if ('errors' in compiled) throw new Error(`the starter policy set does not validate: ${compiled.errors.join('; ')}`);
    starter = compiled.engine;
  }
  return starter;
}

/**
 * Versioned policy sets: publish (validated against the schema first; a bad set changes
 * nothing), list, activate or roll back. The compiled active set is cached per tenant; an
 * activation reaches every instance by pub/sub at once, and within RECHECK_MS regardless.
 */
@Injectable()
export class PolicyStore implements OnModuleInit, OnModuleDestroy {
  private readonly active = new Map<string, ActivePolicy & { checkedAt: number }>();
  private readonly loading = new Map<string, Promise<ActivePolicy>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly bus: RedisBus,
    private readonly catalogue: CatalogueStore,
  ) {}

  async onModuleInit(): Promise<void> {
    starterEngine();
    await this.bus.subscribe(ACTIVATED, (m) => this.evict((m as { tenantId: string }).tenantId));
    this.catalogue.onChange((tenantId) => this.evict(tenantId));
  }

  /**
   * Refuses a catalogue change that the active set would not validate against (called inside the
   * change's transaction, which holds the lock activation takes).
   */
  async checkActiveSetUnder(manager: EntityManager, tenantId: string, catalogue: TenantCatalogue, field = 'tools'): Promise<void> {
    const [active] = await manager.query(`SELECT version FROM active_policy_sets WHERE tenant_id = $1`, [tenantId]);
    const version = active ? Number(active.version) : 0;
    const policies = version === 0 ? STARTER_POLICIES : (await manager.findOneOrFail(PolicySet, { where: { tenantId, version } })).policies;
    const errors = PolicyEngine.validate(policies, catalogueSchema(catalogue));
    if (errors.length) {
      throw new InvalidPolicy(`the active policy set (version ${version}) would not validate against this catalogue: ${errors[0]}`, {
        field,
        version,
        errors,
      });
    }
  }

  async publish(tenantId: string, by: string, input: PublishPolicySetInput): Promise<PolicySet> {
    // Validated only: compiling is for the engine that activation loads.
    const errors = PolicyEngine.validate(input.policies, catalogueSchema(await this.catalogue.current(tenantId)));
    if (errors.length) {
      throw new InvalidPolicy(`the policy set does not validate: ${errors[0]}`, { field: 'policies', errors });
    }
    const published = await this.dataSource.transaction(async (manager) => {
      // Serialises publishers of one tenant so versions are gap-free and unique.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`policy_sets:${tenantId}`]);
      const [{ next }] = await manager.query(`SELECT coalesce(max(version), 0) + 1 AS next FROM policy_sets WHERE tenant_id = $1`, [tenantId]);
      const row = manager.create(PolicySet, {
        tenantId,
        version: Number(next),
        policies: input.policies,
        toolCategories: input.tool_categories,
        description: input.description ?? null,
        publishedBy: by,
      });
      await manager.insert(PolicySet, row);
      await this.audit.append(manager, {
        tenantId,
        type: 'policy.published',
        actor: by,
        data: { version: row.version, policy_ids: Object.keys(input.policies), description: row.description },
      });
      return row;
    });
    if (input.activate) await this.activate(tenantId, published.version, by);
    return published;
  }

  list(tenantId: string): Promise<PolicySet[]> {
    return this.dataSource.manager.find(PolicySet, { where: { tenantId }, order: { version: 'DESC' }, take: 500 });
  }

  async get(tenantId: string, version: number): Promise<PolicySet> {
    const row = await this.dataSource.manager.findOne(PolicySet, { where: { tenantId, version } });
    if (!row) throw new NotFound(`no policy set version ${version}`);
    return row;
  }

  async activeVersion(tenantId: string): Promise<number> {
    const row = await this.dataSource.manager.findOne(ActivePolicySet, { where: { tenantId } });
    return row?.version ?? 0;
  }

  /** Activates a published version (a roll back is activating an older one). */
  async activate(tenantId: string, version: number, by: string): Promise<{ version: number; previous: number }> {
    const previous = await this.dataSource.transaction(async (manager) => {
      const exists = await manager.findOne(PolicySet, { where: { tenantId, version } });
      if (!exists) throw InvalidRequest.forFields([{ field: 'version', message: `no published version ${version}` }]);
      // A version published against an older catalogue must still validate against today's.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [catalogueLock(tenantId)]);
      const catalogue = await this.catalogue.current(tenantId, manager);
      const errors = catalogue ? PolicyEngine.validate(exists.policies, catalogueSchema(catalogue)) : [];
      if (errors.length) {
        throw new InvalidPolicy(`version ${version} does not validate against the tool catalogue: ${errors[0]}`, { field: 'version', errors });
      }
      const [current] = await manager.query(`SELECT version FROM active_policy_sets WHERE tenant_id = $1 FOR UPDATE`, [tenantId]);
      await manager.query(
        `INSERT INTO active_policy_sets (tenant_id, version, activated_at, activated_by) VALUES ($1, $2, now(), $3)
         ON CONFLICT (tenant_id) DO UPDATE SET version = EXCLUDED.version, activated_at = now(), activated_by = EXCLUDED.activated_by`,
        [tenantId, version, by],
      );
      const previousVersion = current ? Number(current.version) : 0;
      await this.audit.append(manager, { tenantId, type: 'policy.activated', actor: by, data: { version, previous: previousVersion } });
      return previousVersion;
    });
    this.evict(tenantId);
    await this.bus.publish(ACTIVATED, { tenantId, version });
    return { version, previous };
  }

  /**
   * The policy in force for a tenant: cached, re-checked against Postgres at most every RECHECK_MS.
   * Concurrent requests that find the cache stale share one re-check (and one compile).
   */
  forTenant(tenantId: string): Promise<ActivePolicy> | ActivePolicy {
    const cached = this.active.get(tenantId);
    if (cached && Date.now() - cached.checkedAt < RECHECK_MS) return cached;
    let loading = this.loading.get(tenantId);
    if (!loading) {
      loading = this.load(tenantId, cached).finally(() => this.loading.delete(tenantId));
      this.loading.set(tenantId, loading);
    }
    return loading;
  }

  private async load(tenantId: string, cached: (ActivePolicy & { checkedAt: number }) | undefined): Promise<ActivePolicy> {
    const now = Date.now();
    const [version, catalogue] = await Promise.all([this.activeVersion(tenantId), this.catalogue.current(tenantId)]);
    if (cached && cached.version === version && cached.catalogue?.revision === catalogue?.revision) {
      cached.checkedAt = now;
      return cached;
    }
    let entry: ActivePolicy;
    if (version === 0 && !catalogue) {
      entry = { version: 0, engine: starterEngine(), toolCategories: {} };
    } else {
      const row = version === 0 ? { policies: STARTER_POLICIES, toolCategories: {} } : await this.get(tenantId, version);
      const compiled = PolicyEngine.compile(row.policies, catalogueSchema(catalogue));
      if ('errors' in compiled) throw new Error(`active policy set ${tenantId} v${version} no longer validates`);
      entry = { version, engine: compiled.engine, toolCategories: row.toolCategories, ...(catalogue ? { catalogue } : {}) };
    }
    this.evict(tenantId);
    this.active.set(tenantId, { ...entry, checkedAt: now });
    return entry;
  }

  /** Drops a tenant's cached engine and frees its compiled set (the shared starter set stays). */
  private evict(tenantId: string): void {
    const cached = this.active.get(tenantId);
    this.active.delete(tenantId);
    if (cached && cached.engine !== starter) cached.engine.release();
  }

  onModuleDestroy(): void {
    for (const tenantId of [...this.active.keys()]) this.evict(tenantId);
  }
}
