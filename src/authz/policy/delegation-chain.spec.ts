import fc from 'fast-check';
import { chainCovers, effectiveToolPatterns, Hop, hopCovers, toolPatternMatches } from './delegation-chain';

const servers = ['orders', 'payments', 'calendar'];
const tools = ['read_order', 'delete_order', 'transfer_funds', 'export_calendars'];
const toolPattern = fc.oneof(
  fc.constant('*'),
  fc.constantFrom(...servers).map((s) => `${s}/*`),
  fc.tuple(fc.constantFrom(...servers), fc.constantFrom(...tools)).map(([s, t]) => `${s}/${t}`),
);
const resourcePatterns = fc.option(fc.array(fc.constantFrom('*', 'acct-1', 'acct-2', 'acct-*', 'doc-1'), { minLength: 1, maxLength: 3 }), { nil: null });
const grant = fc.record({ tools: fc.array(toolPattern, { minLength: 1, maxLength: 4 }), resources: resourcePatterns });
const hop: fc.Arbitrary<Hop> = fc.array(grant, { minLength: 1, maxLength: 2 });
const chain = fc.array(hop, { minLength: 1, maxLength: 5 });
const call = fc.record({
  server: fc.constantFrom(...servers, 'unknown-server'),
  tool: fc.constantFrom(...tools, 'drop_database'),
  resource: fc.option(fc.constantFrom('acct-1', 'acct-2', 'acct-99', 'doc-1'), { nil: undefined }),
});

describe('delegation chains', () => {
  it('a chain never covers a call that its narrowest hop does not cover', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        if (chainCovers(hops, c.server, c.tool, c.resource)) {
          expect(hops.every((h) => hopCovers(h, c.server, c.tool, c.resource))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a sub-agent never gets more than its parent: adding a hop never adds coverage', () => {
    fc.assert(
      fc.property(chain, hop, call, (hops, extra, c) => {
        if (chainCovers([...hops, extra], c.server, c.tool, c.resource)) {
          expect(chainCovers(hops, c.server, c.tool, c.resource)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the explicit intersection of tool patterns covers exactly what the chain covers (resources aside)', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        const toolsOnly = hops.map((h) => h.map((g) => ({ tools: g.tools })));
        const viaPatterns = effectiveToolPatterns(toolsOnly).some((p) => toolPatternMatches(p, c.server, c.tool));
        expect(viaPatterns).toBe(chainCovers(toolsOnly, c.server, c.tool));
      }),
      { numRuns: 2000 },
    );
  });

  it('an empty chain covers nothing', () => {
    fc.assert(fc.property(call, (c) => expect(chainCovers([], c.server, c.tool, c.resource)).toBe(false)));
  });

  it('the human → A → B → C example: A holds orders/*, B only read_order, so C cannot delete', () => {
    const hops: Hop[] = [[{ tools: ['orders/*'] }], [{ tools: ['orders/read_order'] }], [{ tools: ['*'] }]];
    expect(chainCovers(hops, 'orders', 'read_order')).toBe(true);
    expect(chainCovers(hops, 'orders', 'delete_order')).toBe(false);
    expect(effectiveToolPatterns(hops)).toEqual(['orders/read_order']);
  });
});
