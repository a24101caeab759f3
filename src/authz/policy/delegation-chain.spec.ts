import fc from 'fast-check';
import { CallFacts } from './cedar-schema';
import { timeFacts } from './decision-time';
import {
  chainCovers,
  chainMayCover,
  effectiveToolPatterns,
  grantCovers,
  Hop,
  hopCovers,
  resourcePatternMatches,
  resourcePatternWithin,
  resourcesWithin,
  toolPatternMatches,
  toolPatternWithin,
} from './delegation-chain';
import { toolCategory } from './intent';
import { PolicyEngine } from './policy-engine';
import { STARTER_POLICIES } from './starter-policies';

// A small alphabet, so that random chains and random calls meet often.
const SERVERS = ['orders', 'payments', 'calendar'];
const TOOLS = ['read_order', 'delete_order', 'transfer_funds', 'export_calendars'];
const RESOURCE_PATTERNS = ['*', 'acct-1', 'acct-2', 'acct-*', 'doc-1', 'doc-*'];

const toolPattern = fc.oneof(
  fc.constant('*'),
  fc.constantFrom(...SERVERS).map((s) => `${s}/*`),
  fc.tuple(fc.constantFrom(...SERVERS), fc.constantFrom(...TOOLS)).map(([s, t]) => `${s}/${t}`),
);
const resources = fc.option(fc.array(fc.constantFrom(...RESOURCE_PATTERNS), { minLength: 1, maxLength: 3 }), { nil: null });
const grant = fc.record({ tools: fc.array(toolPattern, { minLength: 1, maxLength: 4 }), resources });
const hop: fc.Arbitrary<Hop> = fc.array(grant, { minLength: 1, maxLength: 3 });
const chain = fc.array(hop, { minLength: 1, maxLength: 5 });
const call = fc.record({
  server: fc.constantFrom(...SERVERS, 'crm'),
  tool: fc.constantFrom(...TOOLS, 'drop_database'),
  resource: fc.option(fc.constantFrom('acct-1', 'acct-2', 'acct-99', 'doc-1', 'x'), { nil: undefined }),
});
const toolsOnly = (hops: Hop[]): Hop[] => hops.map((h) => h.map((g) => ({ tools: g.tools })));

const RUNS = { numRuns: 1000 };

describe('delegation chains, for random chains and calls', () => {
  it('a chain covers a call only if every hop covers it, so never more than its narrowest hop', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        const covered = chainCovers(hops, c.server, c.tool, c.resource);
        expect(covered).toBe(hops.every((h) => hopCovers(h, c.server, c.tool, c.resource)));
        if (covered) for (const h of hops) expect(hopCovers(h, c.server, c.tool, c.resource)).toBe(true);
      }),
      RUNS,
    );
  });

  it('chainMayCover says no only for a tool the chain covers on no resource (hiding a tool never hides one it could cover)', () => {
    const emptyLimits = fc.array(
      fc.array(fc.record({ tools: fc.array(toolPattern, { minLength: 1, maxLength: 4 }), resources: fc.constant([] as string[]) }), {
        minLength: 1,
        maxLength: 2,
      }),
      { maxLength: 2 },
    );
    fc.assert(
      fc.property(chain, emptyLimits, call, (hops, extra, c) => {
        const all = [...hops, ...extra];
        if (!chainMayCover(all, c.server, c.tool)) {
          for (const resource of [undefined, 'acct-1', 'acct-2', 'acct-99', 'doc-1', 'x']) expect(chainCovers(all, c.server, c.tool, resource)).toBe(false);
        }
        // Without resource limits it is exact: the tools the chain covers.
        expect(chainMayCover(toolsOnly(hops), c.server, c.tool)).toBe(chainCovers(toolsOnly(hops), c.server, c.tool));
      }),
      RUNS,
    );
    expect(chainMayCover([], 'payments', 'refund')).toBe(false);
    expect(chainMayCover([[{ tools: ['payments/*'], resources: [] }]], 'payments', 'refund')).toBe(false);
    expect(chainMayCover([[{ tools: ['payments/*'], resources: ['acct-1'] }]], 'payments', 'refund')).toBe(true);
  });

  it('a sub-agent never gets more than its parent: appending a hop never adds coverage', () => {
    fc.assert(
      fc.property(chain, hop, call, (hops, extra, c) => {
        if (chainCovers([...hops, extra], c.server, c.tool, c.resource)) {
          expect(chainCovers(hops, c.server, c.tool, c.resource)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('a sub-agent granted everything ("*" on any resource) holds exactly what its parent holds', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        const widened = [...hops, [{ tools: ['*'] }]];
        expect(chainCovers(widened, c.server, c.tool, c.resource)).toBe(chainCovers(hops, c.server, c.tool, c.resource));
      }),
      RUNS,
    );
  });

  it('the order of the hops does not matter: coverage is an intersection', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        expect(chainCovers([...hops].reverse(), c.server, c.tool, c.resource)).toBe(chainCovers(hops, c.server, c.tool, c.resource));
      }),
      RUNS,
    );
  });

  it('within a hop, re-grants add up: adding a grant to a hop never removes coverage', () => {
    fc.assert(
      fc.property(chain, grant, fc.nat(), call, (hops, extra, at, c) => {
        const i = at % hops.length;
        const grown = hops.map((h, j) => (j === i ? [...h, extra] : h));
        if (chainCovers(hops, c.server, c.tool, c.resource)) expect(chainCovers(grown, c.server, c.tool, c.resource)).toBe(true);
      }),
      RUNS,
    );
  });

  it('effectiveToolPatterns covers a call exactly when the chain does, resources aside', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        const viaPatterns = effectiveToolPatterns(hops).some((p) => toolPatternMatches(p, c.server, c.tool));
        expect(viaPatterns).toBe(chainCovers(toolsOnly(hops), c.server, c.tool));
      }),
      RUNS,
    );
  });

  it('every effective tool pattern lies within some pattern of every hop', () => {
    fc.assert(
      fc.property(chain, (hops) => {
        for (const p of effectiveToolPatterns(hops)) {
          for (const h of hops) expect(h.some((g) => g.tools.some((q) => toolPatternWithin(p, q)))).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('effective tool patterns come out sorted and without duplicates', () => {
    fc.assert(
      fc.property(chain, (hops) => {
        const patterns = effectiveToolPatterns(hops);
        expect(patterns).toEqual([...new Set(patterns)].sort());
      }),
      RUNS,
    );
  });

  it('a chain with resource limits never covers more than the same chain without them', () => {
    fc.assert(
      fc.property(chain, call, (hops, c) => {
        if (chainCovers(hops, c.server, c.tool, c.resource)) expect(chainCovers(toolsOnly(hops), c.server, c.tool)).toBe(true);
      }),
      RUNS,
    );
  });

  it('the empty chain covers nothing and grants no tool patterns', () => {
    fc.assert(fc.property(call, (c) => expect(chainCovers([], c.server, c.tool, c.resource)).toBe(false)));
    expect(effectiveToolPatterns([])).toEqual([]);
  });

  it('a pattern within another matches no call the other does not', () => {
    fc.assert(
      fc.property(toolPattern, toolPattern, call, (a, b, c) => {
        if (toolPatternWithin(a, b) && toolPatternMatches(a, c.server, c.tool)) expect(toolPatternMatches(b, c.server, c.tool)).toBe(true);
      }),
      RUNS,
    );
  });

  it('a resource pattern within another matches no resource (nor the absence of one) the other does not', () => {
    const pattern = fc.constantFrom(...RESOURCE_PATTERNS, 'acct-1*', 'acct-1-*', 'a*', 'doc-10');
    const id = fc.option(fc.constantFrom('acct-1', 'acct-10', 'acct-1-x', 'acct-2', 'doc-1', 'doc-10', 'a', 'x'), { nil: undefined });
    fc.assert(
      fc.property(pattern, pattern, id, (a, b, r) => {
        if (resourcePatternWithin(a, b) && resourcePatternMatches(a, r)) expect(resourcePatternMatches(b, r)).toBe(true);
      }),
      RUNS,
    );
  });

  it("a grant whose resources are within its parent's covers no call the parent does not", () => {
    fc.assert(
      fc.property(grant, grant, call, (child, parent, c) => {
        if (!resourcesWithin(child.resources, parent.resources)) return;
        if (grantCovers({ tools: ['*'], resources: child.resources }, c.server, c.tool, c.resource)) {
          expect(grantCovers({ tools: ['*'], resources: parent.resources }, c.server, c.tool, c.resource)).toBe(true);
        }
      }),
      RUNS,
    );
  });
});

describe('delegation chains, by example', () => {
  it('human → A → B → C: A holds orders/*, B only read_order, so C may read but not delete', () => {
    const hops: Hop[] = [[{ tools: ['orders/*'] }], [{ tools: ['orders/read_order'] }], [{ tools: ['*'] }]];
    expect(chainCovers(hops, 'orders', 'read_order')).toBe(true);
    expect(chainCovers(hops, 'orders', 'delete_order')).toBe(false);
    expect(effectiveToolPatterns(hops)).toEqual(['orders/read_order']);
  });

  it('a user holding delete_order does not lend it to an agent granted only reads', () => {
    const hops: Hop[] = [[{ tools: ['orders/*'] }], [{ tools: ['orders/read_order'] }]];
    expect(chainCovers(hops, 'orders', 'delete_order')).toBe(false);
  });

  it('re-grants within a hop add up, across hops they intersect', () => {
    const hops: Hop[] = [[{ tools: ['orders/read_order'] }, { tools: ['payments/*'] }], [{ tools: ['payments/transfer_funds', 'orders/*'] }]];
    expect(effectiveToolPatterns(hops)).toEqual(['orders/read_order', 'payments/transfer_funds']);
  });

  it.each([
    ['"*" matches any resource, even none', '*', undefined, true],
    ['an exact pattern matches only that id', 'acct-1', 'acct-1', true],
    ['an exact pattern does not match a longer id', 'acct-1', 'acct-10', false],
    ['a "*" suffix matches by prefix', 'acct-*', 'acct-99', true],
    ['a "*" suffix does not match another prefix', 'acct-*', 'doc-1', false],
    ['a specific pattern does not match a call without a resource', 'acct-*', undefined, false],
  ])('resource patterns: %s', (_n, pattern, id, expected) => {
    expect(resourcePatternMatches(pattern, id)).toBe(expected);
  });

  it.each([
    ['a pattern is within itself', 'calendar:alice', 'calendar:alice', true],
    ['an id is within a prefix it starts with', 'calendar:alice', 'calendar:*', true],
    ['a longer prefix is within a shorter one', 'calendar:team-a*', 'calendar:team-*', true],
    ['anything is within "*"', 'calendar:*', '*', true],
    ['a prefix is not within an exact id', 'calendar:*', 'calendar:alice', false],
    ['a prefix is not within a longer prefix', 'calendar:team*', 'calendar:team-*', false],
    ['an id with the exact one as prefix is not within it', 'calendar:alice*', 'calendar:alice', false],
    ['"*" is within nothing narrower', '*', 'calendar:*', false],
  ])('resource narrowing: %s', (_n, a, b, expected) => {
    expect(resourcePatternWithin(a, b)).toBe(expected);
  });

  it('resource limits: none (any resource) is within only none or "*"; any list is within none', () => {
    expect(resourcesWithin(null, ['calendar:alice'])).toBe(false);
    expect(resourcesWithin(undefined, ['*'])).toBe(true);
    expect(resourcesWithin(['calendar:*'], null)).toBe(true);
    expect(resourcesWithin(['calendar:alice', 'calendar:bob'], ['calendar:alice'])).toBe(false);
  });

  it('a grant without resource limits covers any resource; one with limits only those', () => {
    expect(grantCovers({ tools: ['payments/*'] }, 'payments', 'transfer_funds', 'acct-1')).toBe(true);
    expect(grantCovers({ tools: ['payments/*'], resources: ['acct-2'] }, 'payments', 'transfer_funds', 'acct-1')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties of the engine on the starter set.

const engine = (() => {
  const r = PolicyEngine.compile(STARTER_POLICIES);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
})();

const VERDICTS = ['allow', 'deny', 'allow_with_obligations'];
const CATEGORIES = ['read', 'search', 'summarize', 'export', 'write', 'delete', 'pay', 'admin', 'unknown'];
const str = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom(...CATEGORIES, 'third_party', 'unknown', 'first_party_certified', 'pii', 'confidential', 'production'),
);
const long = fc.integer({ min: -1_000_000, max: 1_000_000 });

const facts: fc.Arbitrary<CallFacts> = fc.record({
  agent_id: fc.string({ maxLength: 20 }),
  agent_class: str,
  trust_level: str,
  human: fc.string({ maxLength: 12 }),
  chain_length: long,
  granted: fc.boolean(),
  intent_category: str,
  action_category: str,
  server: fc.string({ maxLength: 12 }),
  tool: fc.string({ maxLength: 12 }),
  resource_id: fc.string({ maxLength: 12 }),
  resource_type: str,
  resource_classification: str,
  environment: str,
  amount: fc.option(fc.oneof(long, fc.constantFrom(9_999, 10_000)), { nil: null }),
  external_destination: fc.boolean(),
  bulk: fc.boolean(),
  reason_given: fc.boolean(),
  session_calls: long,
  prior_denials: long,
  prior_step_ups: long,
  hour_of_day: fc.integer({ min: 0, max: 23 }),
  gateway_signals: fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('new_device', 'malware_suspected', 'credential_leak')), { maxLength: 4 }),
  time: fc
    .tuple(
      fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
      fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata'),
    )
    .map(([d, zone]) => timeFacts(d, zone)),
  network: fc.oneof(fc.constant(''), fc.string({ maxLength: 8 }), fc.constantFrom('tor', 'corporate')),
  velocity: fc.record({ last_60s: long, last_300s: long, last_3600s: long }),
});

/** Names that the tool-name guesser does not recognise. */
const unknownToolName = fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,15}$/).filter((t) => toolCategory('mystery', t) === 'admin');

const ENGINE_RUNS = { numRuns: 300 };

describe('the starter policy set, for random facts', () => {
  it('denies an unknown tool (counted as admin) that the agent was not granted, whatever else holds', () => {
    fc.assert(
      fc.property(facts, unknownToolName, (f, tool) => {
        const d = engine.evaluate({ ...f, server: 'mystery', tool, action_category: toolCategory('mystery', tool), granted: false });
        expect(d.verdict).toBe('deny');
      }),
      ENGINE_RUNS,
    );
  });

  it('denies any call the agent was not granted, naming not_delegated', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const d = engine.evaluate({ ...f, granted: false });
        expect(d.verdict).toBe('deny');
        if (!d.reasons.includes('policy_evaluation_failed')) expect(d.reasons).toContain('not_delegated');
      }),
      ENGINE_RUNS,
    );
  });

  it('never lets a granted admin action through without a human', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const d = engine.evaluate({ ...f, action_category: 'admin', granted: true });
        expect(d.verdict).not.toBe('allow');
        if (d.verdict === 'allow_with_obligations') {
          expect(d.obligations).toContainEqual(expect.objectContaining({ type: 'human_approval', quorum: 2 }));
        }
      }),
      ENGINE_RUNS,
    );
  });

  it('never throws and always returns one of the three verdicts, consistent with its obligations', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const d = engine.evaluate(f);
        expect(VERDICTS).toContain(d.verdict);
        const approval = d.obligations.some((o) => o.type === 'human_approval');
        expect(d.verdict === 'allow_with_obligations').toBe(approval);
        if (d.verdict === 'deny') expect(d.obligations).toEqual([]);
        expect(d.reasons.length).toBeGreaterThan(0);
      }),
      ENGINE_RUNS,
    );
  });

  it('never throws even for numbers Cedar cannot hold, and then denies', () => {
    const odd = fc.constantFrom(NaN, Infinity, -Infinity, 0.5, 2 ** 64, -(2 ** 64));
    fc.assert(
      fc.property(facts, odd, fc.constantFrom('amount', 'session_calls', 'prior_denials', 'chain_length', 'hour_of_day'), (f, n, key) => {
        const d = engine.evaluate({ ...f, [key]: n });
        expect(d.verdict).toBe('deny');
      }),
      { numRuns: 100 },
    );
  });

  it('is deterministic: the same facts give the same decision', () => {
    fc.assert(
      fc.property(facts, (f) => {
        expect(engine.evaluate(f)).toEqual(engine.evaluate(f));
      }),
      ENGINE_RUNS,
    );
  });

  it('a forbid always wins: a granted call with suspected malware is denied, whatever else holds', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const d = engine.evaluate({ ...f, granted: true, gateway_signals: [...f.gateway_signals, 'malware_suspected'] });
        expect(d.verdict).toBe('deny');
      }),
      ENGINE_RUNS,
    );
  });
});
