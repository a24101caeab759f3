import { TenantCache } from './tenant-cache';

describe('TenantCache', () => {
  const counting = () => {
    let loads = 0;
    return { load: async () => ++loads, loads: () => loads };
  };

  it('answers from the cache within the time it trusts an answer, and loads again after', async () => {
    const cache = new TenantCache<number>(50, 10);
    const source = counting();
    expect(await cache.get('acme', 'k', source.load)).toBe(1);
    expect(await cache.get('acme', 'k', source.load)).toBe(1);
    await new Promise((r) => setTimeout(r, 70));
    expect(await cache.get('acme', 'k', source.load)).toBe(2);
  });

  it("drops one tenant's answers, or every tenant's, when told of a change", async () => {
    const cache = new TenantCache<number>(60_000, 10);
    const source = counting();
    await cache.get('acme', 'k', source.load);
    await cache.get('globex', 'k', source.load);
    cache.invalidate('acme');
    expect(await cache.get('acme', 'k', source.load)).toBe(3);
    expect(await cache.get('globex', 'k', source.load)).toBe(2);
    cache.invalidate();
    expect(await cache.get('globex', 'k', source.load)).toBe(4);
  });

  it('does not keep an answer read while a change happened (it may predate the change)', async () => {
    const cache = new TenantCache<string>(60_000, 10);
    let release!: () => void;
    const slow = cache.get('acme', 'k', () => new Promise<string>((r) => (release = () => r('before'))));
    cache.invalidate('acme');
    release();
    expect(await slow).toBe('before');
    expect(await cache.get('acme', 'k', async () => 'after')).toBe('after');
  });

  it("keeps at most its bound of answers per tenant (the tenant's are dropped and refilled)", async () => {
    const cache = new TenantCache<number>(60_000, 2);
    const source = counting();
    await cache.get('acme', 'a', source.load);
    await cache.get('acme', 'b', source.load);
    await cache.get('acme', 'c', source.load);
    expect(await cache.get('acme', 'c', source.load)).toBe(3);
    expect(await cache.get('acme', 'a', source.load)).toBe(4);
  });

  it('does not keep an answer its owner says not to keep (e.g. one that found nobody)', async () => {
    const cache = new TenantCache<number>(60_000, 10);
    const source = counting();
    const keepEven = (n: number) => n % 2 === 0;
    expect(await cache.get('acme', 'k', source.load, keepEven)).toBe(1);
    expect(await cache.get('acme', 'k', source.load, keepEven)).toBe(2);
    expect(await cache.get('acme', 'k', source.load, keepEven)).toBe(2);
  });
});
