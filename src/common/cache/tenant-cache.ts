/**
 * Answers cached per tenant, for reads that every instance must stop trusting soon after a
 * change: the owner drops a tenant's answers when told of a change (its bus message), and an
 * answer is trusted for at most `ttlMs` even if that message is lost. A read that raced a
 * change is not cached (the generation moved while it ran).
 */
export class TenantCache<V> {
  private readonly tenants = new Map<string, Map<string, { at: number; value: V }>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    /** Answers kept per tenant before the tenant's are dropped and refilled. */
    private readonly maxPerTenant: number,
  ) {}

  /** The cached answer, else `load`'s (cached unless the tenant changed while it ran, or `keep` says not to). */
  async get(tenantId: string, key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const cached = this.tenants.get(tenantId)?.get(key);
    if (cached && Date.now() - cached.at <= this.ttlMs) return cached.value;
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation && keep(value)) {
      let answers = this.tenants.get(tenantId);
      if (!answers || answers.size >= this.maxPerTenant) this.tenants.set(tenantId, (answers = new Map()));
      answers.set(key, { at: Date.now(), value });
    }
    return value;
  }

  /** Drops one tenant's answers, or every tenant's when the tenant is not known. */
  invalidate(tenantId?: string): void {
    this.generation++;
    if (typeof tenantId === 'string') this.tenants.delete(tenantId);
    else this.tenants.clear();
  }
}
