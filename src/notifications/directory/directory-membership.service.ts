/**
 * The directory as the hot paths read it, cached per tenant. For the decision path (authz's
 * UserDirectory port): whether a human is in the tenant's directory and their status there,
 * their groups, their attributes and their own entitlements, one indexed query per human on a
 * miss. For parking: how approver references resolve to people (ApproverDirectory's lookup).
 * Every directory change (people, groups, push subscriptions) drops the tenant's answers on every
 * instance (RedisBus), and an answer is trusted for at most MEMBERSHIP_CACHE_MS even if that
 * message is lost.
 */
import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TenantCache } from '../../common/cache/tenant-cache';
import { RedisBus } from '../../common/redis/redis-bus.service';
import { DirectoryPerson, UserDirectory } from '../../authz/people/user-directory.port';
import type { UserFacts } from '../../authz/policy/cedar-schema';

/** Published by ApproverDirectory after every committed change: `{ tenantId }`. */
export const DIRECTORY_CHANGED = 'directory-changed';
/** How long a cached answer is trusted if an invalidation message is lost (as delegation hops). */
const MEMBERSHIP_CACHE_MS = 1000;
/** Humans cached per tenant before the tenant's cache is dropped and refilled. */
const MAX_PER_TENANT = 50_000;

@Injectable()
export class DirectoryMembership extends UserDirectory implements OnModuleInit {
  private readonly people = new TenantCache<DirectoryPerson>(MEMBERSHIP_CACHE_MS, MAX_PER_TENANT);
  private readonly references = new TenantCache<unknown>(MEMBERSHIP_CACHE_MS, MAX_PER_TENANT);

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: RedisBus,
  ) {
    super();
  }

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(DIRECTORY_CHANGED, (m) => this.invalidate((m as { tenantId?: string }).tenantId));
  }

  /** After a committed change: drop the tenant's answers here at once, and on every other instance by the bus. */
  async changed(tenantId: string): Promise<void> {
    this.invalidate(tenantId);
    await this.bus.publish(DIRECTORY_CHANGED, { tenantId });
  }

  private invalidate(tenantId?: string): void {
    this.people.invalidate(tenantId);
    this.references.invalidate(tenantId);
  }

  /** How a set of approver references resolves (`key` names the set), cached as the people are when `keep` allows. */
  resolved<T>(tenantId: string, key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    return this.references.get(tenantId, key, load, keep as (value: unknown) => boolean) as Promise<T>;
  }

  async person(tenantId: string, userId: string, { fresh = false }: { fresh?: boolean } = {}): Promise<DirectoryPerson> {
    if (fresh) return this.read(tenantId, userId);
    return this.people.get(tenantId, userId, () => this.read(tenantId, userId));
  }

  private async read(tenantId: string, userId: string): Promise<DirectoryPerson> {
    const [row]: {
      status: 'active' | 'disabled' | null;
      groups: string[];
      entitlements: DirectoryPerson['entitlements'];
      attributes: Record<string, string> | null;
    }[] = await this.dataSource.query(
      // Their groups and every group those are in, transitively (UNION stops at a group seen twice).
      `WITH RECURSIVE g (name) AS (
           SELECT group_name FROM approver_group_members WHERE tenant_id = $1 AND approver_id = $2
           UNION SELECT p.parent_name FROM approver_group_parents p JOIN g ON p.tenant_id = $1 AND p.group_name = g.name
         )
         SELECT a.status, a.entitlements, a.attributes, ARRAY(SELECT name FROM g ORDER BY name) AS groups
           FROM (SELECT 1) one LEFT JOIN approvers a ON a.tenant_id = $1 AND a.id = $2`,
      [tenantId, userId],
    );
    const user: UserFacts = { status: row.status ?? 'unknown', groups: row.groups, attributes: row.attributes ?? {} };
    return { user, entitlements: row.entitlements ?? null };
  }
}
