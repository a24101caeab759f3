import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import fc from 'fast-check';
import { CallFacts } from '../policy/cedar-schema';
import { callFacts } from '../policy/call-facts.fixture';
import { delegationContext } from '../policy/delegation-facts';
import { entityContext } from '../policy/entities';
import { PolicyEngine } from '../policy/policy-engine';
import { STARTER_POLICIES } from '../policy/starter-policies';
import { InputShape } from './input-shape';
import { tenantCatalogue, TenantCatalogue } from './tenant-schema';

const TRANSFER = {
  type: 'object',
  properties: { amount: { type: 'number' }, currency: { type: 'string' }, memo: { type: 'string' } },
  required: ['amount', 'currency'],
};

const FACTS: CallFacts = callFacts();

let schemas = 0;
function engineFor(catalogue: TenantCatalogue, policies: Record<string, string>) {
  return PolicyEngine.compile(policies, { schema: catalogue.schema, schemaName: `spec-catalogue-${schemas++ % 4}` });
}
function compiled(catalogue: TenantCatalogue, policies: Record<string, string>): PolicyEngine {
  const r = engineFor(catalogue, policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const catalogue = tenantCatalogue(1, [{ server: 'payments-mcp', name: 'transfer_funds', inputSchema: TRANSFER }]);
const tool = catalogue.tools.get('payments-mcp/transfer_funds')!;
const callWith = (args: Record<string, unknown>) => {
  const r = tool.input(args);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return { action: tool.action, input: r.value };
};

const BIG_EUR = `@reason("big_eur") forbid (principal, action == Action::"payments-mcp/transfer_funds", resource)
when { context.input.amount.greaterThan(decimal("1000.00")) && context.input.currency == "EUR" };`;
const ANY_GRANTED = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';

describe('a tenant schema with one action per catalogued tool', () => {
  const engine = compiled(catalogue, { any: ANY_GRANTED, big_eur: BIG_EUR });

  it.each([
    [{ amount: 1000.01, currency: 'EUR' }, 'deny'],
    [{ amount: 1000, currency: 'EUR' }, 'allow'],
    [{ amount: 5000, currency: 'USD' }, 'allow'],
  ])('evaluates a policy on the typed input: %p is %s', (args, verdict) => {
    expect(engine.evaluate(FACTS, callWith(args)).verdict).toBe(verdict);
  });

  it('applies a policy scoped to call_tool to a catalogued tool and to an uncatalogued one', () => {
    const forbidAll = compiled(catalogue, {
      any: ANY_GRANTED,
      no: '@reason("frozen") forbid (principal, action == Action::"call_tool", resource) when { context.server == "payments-mcp" };',
    });
    expect(forbidAll.evaluate(FACTS, callWith({ amount: 1, currency: 'EUR' }))).toMatchObject({ verdict: 'deny', reasons: ['frozen'] });
    expect(forbidAll.evaluate(FACTS).verdict).toBe('deny');
    expect(forbidAll.evaluate({ ...FACTS, server: 'crm' }, callWith({ amount: 1, currency: 'EUR' })).verdict).toBe('allow');
  });

  it('keeps the starter set valid and evaluating under a catalogue', () => {
    const starter = compiled(catalogue, STARTER_POLICIES);
    expect(starter.evaluate({ ...FACTS, amount: 10 }, callWith({ amount: 10, currency: 'EUR' })).verdict).toBe('allow');
  });

  it('guards an optional member with has', () => {
    const memo = compiled(catalogue, {
      any: ANY_GRANTED,
      m: 'forbid (principal, action == Action::"payments-mcp/transfer_funds", resource) when { context.input has memo && context.input.memo like "*urgent*" };',
    });
    expect(memo.evaluate(FACTS, callWith({ amount: 1, currency: 'EUR', memo: 'very urgent' })).verdict).toBe('deny');
    expect(memo.evaluate(FACTS, callWith({ amount: 1, currency: 'EUR' })).verdict).toBe('allow');
  });

  it.each([
    ['a member the input does not have', 'context.input.beneficiary == "x"', /attribute `input.beneficiary`.*not found/],
    ['an optional member without has', 'context.input.memo == "x"', /memo/],
    ['> on a decimal (Cedar compares decimals with .greaterThan)', 'context.input.amount > decimal("1000.00")', /decimal/],
    ['input under call_tool, which has none', null, /input/],
  ])('refuses %s, naming the policy', (_, condition, message) => {
    const text =
      condition === null
        ? 'forbid (principal, action == Action::"call_tool", resource) when { context.input.amount == decimal("1.0") };'
        : `forbid (principal, action == Action::"payments-mcp/transfer_funds", resource) when { ${condition} };`;
    const r = engineFor(catalogue, { any: ANY_GRANTED, bad: text });
    expect('errors' in r && r.errors[0]).toMatch(/^bad: /);
    expect('errors' in r && r.errors.join('\n')).toMatch(message);
  });
});

// ---- property tests: generated JSON Schemas (the supported subset) and inputs -----------------

type Gen = { schema: Record<string, unknown>; value: fc.Arbitrary<unknown> };

const NAME = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const decimalValue = fc
  .integer({ min: -1_000_000_000, max: 1_000_000_000 })
  .chain((units) => fc.integer({ min: 0, max: 4 }).map((places) => units / 10 ** places));

function leaf(): fc.Arbitrary<Gen> {
  return fc.oneof(
    fc.constant<Gen>({ schema: { type: 'string' }, value: fc.string({ unit: 'binary', maxLength: 8 }) }),
    fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 })
      .map((e): Gen => ({ schema: { type: 'string', enum: e }, value: fc.constantFrom(...e) })),
    fc.constant<Gen>({ schema: { type: 'integer' }, value: fc.maxSafeInteger() }),
    fc.constant<Gen>({ schema: { type: 'integer', minimum: 0, maximum: 100 }, value: fc.integer({ min: 0, max: 100 }) }),
    fc.constant<Gen>({ schema: { type: 'number' }, value: decimalValue }),
    fc.constant<Gen>({ schema: { type: 'boolean' }, value: fc.boolean() }),
    fc.constant<Gen>({ schema: { type: ['string', 'null'] }, value: fc.option(fc.string({ maxLength: 4 }), { nil: null }) }),
    fc.constant<Gen>({ schema: { oneOf: [{ type: 'string' }, { type: 'integer' }] }, value: fc.oneof(fc.string(), fc.integer()) }),
  );
}

const genOf: (depth: number) => fc.Arbitrary<Gen> = fc.memo((depth: number) =>
  depth <= 1
    ? leaf()
    : fc.oneof(
        { weight: 3, arbitrary: leaf() },
        {
          weight: 1,
          arbitrary: genOf(depth - 1).map((items): Gen => ({ schema: { type: 'array', items: items.schema }, value: fc.array(items.value, { maxLength: 3 }) })),
        },
        { weight: 2, arbitrary: objectOf(depth - 1) },
      ),
);

function objectOf(depth: number): fc.Arbitrary<Gen> {
  return fc.uniqueArray(fc.tuple(NAME, genOf(depth), fc.boolean()), { maxLength: 5, selector: ([n]) => n }).map((members): Gen => {
    const required = members.filter(([, , r]) => r).map(([n]) => n);
    const schema = { type: 'object', properties: Object.fromEntries(members.map(([n, g]) => [n, g.schema])), required };
    const value = fc.record(Object.fromEntries(members.map(([n, g]) => [n, g.value])), { requiredKeys: required });
    return { schema, value };
  });
}

const toolArb = objectOf(3).chain((g) => g.value.map((value) => ({ schema: g.schema, value: value as Record<string, unknown> })));

/** Every member path of a value, with the value there. */
function paths(value: unknown, path: string[] = []): { path: string[]; value: unknown }[] {
  if (typeof value !== 'object' || value === null) return [{ path, value }];
  const here = path.length ? [{ path, value }] : [];
  return [...here, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...path, Array.isArray(value) ? `[${k}]` : k]))];
}
function setAt(value: unknown, path: string[], next: unknown): unknown {
  if (!path.length) return next;
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  const key = path[0].startsWith('[') ? Number(path[0].slice(1, -1)) : path[0];
  copy[key] = setAt(copy[key], path.slice(1), next);
  return copy;
}
const fieldOf = (path: string[]) => ['action.arguments', ...path].join('.').replace(/\.\[/g, '[');

const HOP = {
  id: 'dlg_1',
  purpose: 'invoicing',
  granted_at: '2026-12-01T00:00:00.000Z',
  not_before: '2026-12-02T00:00:00.000Z',
  expires_at: '2026-12-31T00:00:00.000Z',
  tools: ['srv/*'],
  resources: ['r-*'],
};

describe('property: generated inputSchemas and inputs', () => {
  it('every input that validates against the JSON Schema evaluates without a Cedar error (request validated against the schema)', () => {
    fc.assert(
      fc.property(toolArb, ({ schema, value }) => {
        const cat = tenantCatalogue(1, [{ server: 'srv', name: 'tool', inputSchema: schema }]);
        const t = cat.tools.get('srv/tool')!;
        const converted = t.input(value);
        expect(converted).not.toHaveProperty('problems');
        const input = (converted as { value: Record<string, unknown> }).value;
        const { agent_id, amount, ...facts } = FACTS;
        const answer = cedar.isAuthorized({
          principal: { type: 'Agent', id: agent_id },
          action: { type: 'Action', id: t.action },
          resource: { type: 'Tool', id: 'srv/tool' },
          // With every member the schema declares, those built on demand included (they must conform too).
          context: {
            ...facts,
            has_amount: amount !== null,
            amount: amount ?? 0,
            ...entityContext(FACTS),
            ...delegationContext({ ...FACTS, delegations: [HOP, { ...HOP, purpose: null, expires_at: null, resources: null }] }),
            human_entitlement: { recorded: true, covers_call: true, tools: ['srv/*'], resources: ['r-*'] },
            agent_flags: { last_24h: 0, last_7d: 1, last_30d: 2 },
            autonomy: { consecutive_approvals: 3, approvals: 4, denials: 1, flags: 0, days_since_last_denial: 5, days_since_last_flag: 36500 },
            input,
          } as unknown as cedar.Context,
          schema: cat.schema,
          validateRequest: true,
          // Reads the whole input, so every value is converted and compared.
          policies: {
            staticPolicies: { p: 'permit (principal, action in Action::"call_tool", resource) when { context has input && context.input == context.input };' },
          },
          entities: [],
        });
        expect(answer).toMatchObject({ type: 'success', response: { decision: 'allow', diagnostics: { errors: [] } } });
      }),
      { numRuns: 200 },
    );
  });

  it('an input with one member of the wrong type is refused, naming that member', () => {
    fc.assert(
      fc.property(
        toolArb.filter(({ value }) => paths(value).length > 0),
        fc.nat(),
        fc.constantFrom<unknown>({ unexpected: true }, 'text', 12.5, true, [1, 'x']),
        ({ schema, value }, pick, wrong) => {
          const cat = tenantCatalogue(1, [{ server: 'srv', name: 'tool', inputSchema: schema }]);
          const t = cat.tools.get('srv/tool')!;
          const all = paths(value);
          const target = all[pick % all.length];
          // Only a member whose shape is checked (not left out of the type) and that the wrong value violates.
          const shapeAt = target.path.reduce<InputShape | undefined>(
            (sh, k) => (sh?.kind === 'set' && k.startsWith('[') ? sh.items : sh?.kind === 'record' ? sh.members[k]?.shape : undefined),
            t.shape,
          );
          const fits: Record<string, (v: unknown) => boolean> = {
            string: (v) => typeof v === 'string',
            long: (v) => Number.isInteger(v),
            decimal: (v) => typeof v === 'number',
            bool: (v) => typeof v === 'boolean',
            set: Array.isArray,
            record: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
          };
          fc.pre(shapeAt !== undefined && shapeAt.kind !== 'unchecked' && !fits[shapeAt.kind](wrong));
          const result = t.input(setAt(value, target.path, wrong) as Record<string, unknown>);
          expect(result).toHaveProperty('problems');
          expect((result as { problems: { field: string }[] }).problems.map((p) => p.field)).toContain(fieldOf(target.path));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an input missing a required member is refused, naming that member', () => {
    fc.assert(
      fc.property(toolArb, ({ schema, value }) => {
        const required = (schema.required as string[]) ?? [];
        fc.pre(required.length > 0);
        const { [required[0]]: _, ...rest } = value;
        const t = tenantCatalogue(1, [{ server: 'srv', name: 'tool', inputSchema: schema }]).tools.get('srv/tool')!;
        expect(t.input(rest)).toEqual({ problems: expect.arrayContaining([{ field: `action.arguments.${required[0]}`, message: 'is required' }]) });
      }),
      { numRuns: 200 },
    );
  });
});
