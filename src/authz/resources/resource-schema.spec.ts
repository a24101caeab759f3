import type { TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { tenantCatalogue, TenantCatalogue } from '../catalogue/tenant-schema';
import { CallFacts, ResourceFacts } from '../policy/cedar-schema';
import { callFacts } from '../policy/call-facts.fixture';
import { decisionEntities, entityContext, reachesEntities } from '../policy/entities';
import { PolicyEngine } from '../policy/policy-engine';
import { STARTER_POLICIES } from '../policy/starter-policies';
import { addResourceTypes, convertAttributes, entityShape, ResourceTypeDecl, typeKey } from './resource-schema';

const DOCUMENT: ResourceTypeDecl = {
  name: 'Document',
  attributes: { department: { type: 'string' }, pages: { type: 'long', optional: true }, tags: { type: 'set<string>' }, legal_hold: { type: 'boolean' } },
};
const BANK_ACCOUNT: ResourceTypeDecl = { name: 'BankAccount', attributes: { daily_limit: { type: 'decimal' }, currency: { type: 'string' } } };

const FACTS: CallFacts = callFacts({
  agent_id: 'doc-agent',
  agent_class: 'assistant',
  intent_category: 'read',
  action_category: 'read',
  server: 'docs',
  tool: 'read_document',
  resource_id: 'doc-1',
  resource_type: 'Document',
  resource_classification: 'confidential',
  user: { status: 'active', groups: ['staff'] },
});

function documentFacts(over: Partial<ResourceFacts> = {}, attributes: Record<string, unknown> = {}): CallFacts {
  const converted = convertAttributes(DOCUMENT, { department: 'hr', tags: ['payroll'], legal_hold: false, ...attributes });
  if ('problems' in converted) throw new Error(JSON.stringify(converted.problems));
  const resource: ResourceFacts = {
    type: 'Document',
    id: 'doc-1',
    classification: 'confidential',
    environment: 'production',
    owner: 'alice',
    owner_user: { status: 'active', groups: ['staff'] },
    attributes: converted.value,
    ...over,
  };
  return { ...FACTS, resource };
}

const catalogue = tenantCatalogue(
  1,
  [{ server: 'docs', name: 'read_document', inputSchema: { type: 'object', properties: { id: { type: 'string' } } } }],
  [DOCUMENT, BANK_ACCOUNT],
);

let schemas = 0;
function engineFor(c: TenantCatalogue, policies: Record<string, string>) {
  return PolicyEngine.compile(policies, { schema: c.schema, schemaName: `spec-resources-${schemas++ % 4}` });
}
function compiled(policies: Record<string, string>, c = catalogue): PolicyEngine {
  const r = engineFor(c, policies);
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.engine;
}

const ANY_GRANTED = 'permit (principal, action == Action::"call_tool", resource) when { context.granted };';
const OWNER_ONLY = `@reason("not_the_owner") forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document.classification == "confidential" } unless { context.Document.owner == context.user };`;
const HR_DOCS = `@reason("hr_docs_for_hr") forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document.department == "hr" } unless { context.user in Group::"hr" || context.Document.owner == context.user };`;
const LEGAL_HOLD = `@reason("legal_hold") forbid (principal, action == Action::"call_tool", resource)
when { context has Document && (context.Document.legal_hold || context.Document.tags.contains("frozen")) && context.action_category != "read" };`;
const LONG_DOCS = `@reason("too_long") forbid (principal, action == Action::"call_tool", resource)
when { context has Document && context.Document has pages && context.Document.pages > 500 };`;
const BIG_ACCOUNT = `@reason("big_account") forbid (principal, action == Action::"call_tool", resource)
when { context has BankAccount && context.BankAccount.daily_limit.greaterThan(decimal("10000.00")) };`;

describe('resource types in the tenant schema', () => {
  it('declares one entity type per resource type: classification, environment, owner: User, and the declared attributes', () => {
    const ns = catalogue.schema[''];
    expect(ns.entityTypes.Document).toEqual({ shape: entityShape(DOCUMENT) });
    expect(entityShape(DOCUMENT).attributes).toEqual({
      classification: { type: 'String' },
      environment: { type: 'String' },
      owner: { type: 'Entity', name: 'User' },
      department: { type: 'String' },
      legal_hold: { type: 'Boolean' },
      pages: { type: 'Long', required: false },
      tags: { type: 'Set', element: { type: 'String' } },
    });
    expect(entityShape(BANK_ACCOUNT).attributes.daily_limit).toEqual({ type: 'Extension', name: 'decimal' });
  });

  it("gives call_tool's context and every catalogued tool's context an optional member per type", () => {
    const ns = catalogue.schema[''];
    for (const action of ['call_tool', 'docs/read_document']) {
      const attributes = (ns.actions[action].appliesTo!.context as { attributes: Record<string, unknown> }).attributes;
      expect(attributes.Document).toEqual({ type: 'Entity', name: 'Document', required: false });
      expect(attributes.BankAccount).toEqual({ type: 'Entity', name: 'BankAccount', required: false });
    }
    // The schema is still one Cedar accepts.
    expect(cedar.checkParseSchema(catalogue.schema).type).toBe('success');
  });

  it('is pure: the same declarations in any order give the same schema', () => {
    expect(tenantCatalogue(1, [], [BANK_ACCOUNT, DOCUMENT]).schema).toEqual(tenantCatalogue(1, [], [DOCUMENT, BANK_ACCOUNT]).schema);
  });

  it('refuses a type that would shadow a base entity type', () => {
    const ns = structuredClone(catalogue.schema[''])!;
    expect(() => addResourceTypes(ns, {}, [{ name: 'User', attributes: {} }])).toThrow(/collides/);
  });

  it('keeps the starter set valid under resource types', () => {
    expect('engine' in engineFor(catalogue, STARTER_POLICIES)).toBe(true);
  });

  it.each([
    ['an attribute the type does not declare', 'context has Document && context.Document.budget == "x"', /budget/],
    ['the member without `has` (it is optional: the call may name no registered Document)', 'context.Document.department == "hr"', /Document/],
    ['an optional attribute without `has`', 'context has Document && context.Document.pages > 3', /pages/],
    ['> on a decimal attribute', 'context has BankAccount && context.BankAccount.daily_limit > decimal("1.0")', /decimal/],
    ['a string compared with a number', 'context has Document && context.Document.department == 3', /./],
    // Cedar types `has` on a member the context cannot have as false: a forbid that could never apply is refused too.
    ['a type that is not declared (the policy could never apply)', 'context has Calendar && context.Calendar.owner == context.user', /policy is impossible/],
  ])('refuses at validation %s, naming the policy', (_, condition, message) => {
    const r = engineFor(catalogue, { any: ANY_GRANTED, bad: `forbid (principal, action == Action::"call_tool", resource) when { ${condition} };` });
    expect('errors' in r && r.errors[0]).toMatch(/^bad: /);
    expect('errors' in r && r.errors.join('\n')).toMatch(message);
  });
});

describe('policies over a registered resource', () => {
  const engine = compiled({ any: ANY_GRANTED, owner: OWNER_ONLY, hr: HR_DOCS, hold: LEGAL_HOLD, long: LONG_DOCS, big: BIG_ACCOUNT });
  const call = { action: 'docs/read_document', input: { id: 'doc-1' } };

  it('reads the set through entities (policies that read context.<Type> reach entities)', () => {
    expect(engine.usesEntities).toBe(true);
    const json = cedar.policyToJson(HR_DOCS);
    expect(json.type === 'success' && reachesEntities(json.json)).toBe(true);
  });

  it.each([
    ['the owner reads her confidential HR document', {}, {}, {}, 'allow', ['any']],
    ['another user is not the owner of a confidential document', { owner: 'bob' }, {}, {}, 'deny', ['hr_docs_for_hr', 'not_the_owner']],
    [
      'an internal document of another owner outside HR is readable',
      { owner: 'bob', classification: 'internal' },
      { department: 'sales' },
      {},
      'allow',
      ['any'],
    ],
    [
      'an HR member reads an internal HR document of someone else',
      { owner: 'bob', classification: 'internal' },
      {},
      { user: { status: 'active' as const, groups: ['hr'] } },
      'allow',
      ['any'],
    ],
    ['a write to a document under legal hold', {}, { legal_hold: true }, { action_category: 'write' }, 'deny', ['legal_hold']],
    ['a write to a document tagged frozen', {}, { tags: ['frozen', 'payroll'] }, { action_category: 'write' }, 'deny', ['legal_hold']],
    ['an optional attribute present', {}, { pages: 900 }, {}, 'deny', ['too_long']],
  ])('%s', (_, over, attributes, facts, verdict, reasons) => {
    const d = engine.evaluate({ ...documentFacts(over, attributes), ...facts }, call);
    expect({ verdict: d.verdict, reasons: d.reasons }).toEqual({ verdict, reasons });
    // The same decision when the call is not catalogued (no schema passed to Cedar).
    const plain = engine.evaluate({ ...documentFacts(over, attributes), ...facts });
    expect({ verdict: plain.verdict, reasons: plain.reasons }).toEqual({ verdict, reasons });
  });

  it('reads a decimal attribute with its methods', () => {
    const converted = convertAttributes(BANK_ACCOUNT, { daily_limit: 25000.5, currency: 'EUR' });
    if ('problems' in converted) throw new Error('unexpected');
    const account = (limit: Record<string, unknown>) => ({
      ...FACTS,
      resource: {
        type: 'BankAccount',
        id: 'acct-7',
        classification: 'confidential',
        environment: 'production',
        owner: 'alice',
        owner_user: FACTS.user!,
        attributes: limit,
      },
    });
    expect(engine.evaluate(account(converted.value)).reasons).toEqual(['big_account']);
    const small = convertAttributes(BANK_ACCOUNT, { daily_limit: 10000, currency: 'EUR' });
    expect(engine.evaluate(account('value' in small ? small.value : {})).verdict).toBe('allow');
  });

  it('leaves a call about no registered resource to the other policies', () => {
    expect(engine.evaluate(FACTS, call)).toMatchObject({ verdict: 'allow', reasons: ['any'] });
  });

  it("builds the owner's User entity with their groups, once even when the owner is the human", () => {
    const owned = decisionEntities(documentFacts({ owner: 'bob', owner_user: { status: 'active', groups: ['hr'] } }));
    expect(owned.filter((e) => (e.uid as TypeAndId).type === 'User').map((e) => (e.uid as TypeAndId).id)).toEqual(['alice', 'bob']);
    expect(owned.find((e) => (e.uid as TypeAndId).id === 'bob')!.parents).toEqual([{ type: 'Group', id: 'hr' }]);
    expect(decisionEntities(documentFacts()).filter((e) => (e.uid as TypeAndId).type === 'User')).toHaveLength(1);
    expect(entityContext(documentFacts())).toMatchObject({ Document: { __entity: { type: 'Document', id: 'doc-1' } } });
    expect(entityContext(FACTS)).not.toHaveProperty('Document');
    const inGroup = compiled({
      any: ANY_GRANTED,
      g: '@reason("owner_in_hr") forbid (principal, action, resource) when { context has Document && context.Document.owner in Group::"hr" };',
    });
    expect(inGroup.evaluate(documentFacts({ owner: 'bob', owner_user: { status: 'active', groups: ['hr'] } })).reasons).toEqual(['owner_in_hr']);
    expect(inGroup.evaluate(documentFacts({ owner: 'bob', owner_user: { status: 'unknown', groups: [] } })).verdict).toBe('allow');
  });
});

describe('attribute values against the declaration', () => {
  it('converts values: decimals as escapes, sets sorted and unique', () => {
    expect(convertAttributes(BANK_ACCOUNT, { daily_limit: 12.5, currency: 'EUR' })).toEqual({
      value: { currency: 'EUR', daily_limit: { __extn: { fn: 'decimal', arg: '12.5000' } } },
    });
    expect(convertAttributes(DOCUMENT, { department: 'hr', tags: ['b', 'a', 'b'], legal_hold: true })).toEqual({
      value: { department: 'hr', tags: ['a', 'b'], legal_hold: true },
    });
  });

  it.each([
    ['a missing required attribute', DOCUMENT, { tags: [], legal_hold: false }, 'attributes.department', /is required/],
    ['an undeclared attribute', DOCUMENT, { department: 'x', tags: [], legal_hold: false, budget: 3 }, 'attributes.budget', /is not an attribute of Document/],
    ['a long that is not an integer', DOCUMENT, { department: 'x', tags: [], legal_hold: false, pages: 1.5 }, 'attributes.pages', /integer/],
    ['a long beyond 2^53', DOCUMENT, { department: 'x', tags: [], legal_hold: false, pages: 2 ** 60 }, 'attributes.pages', /integer/],
    ['a string attribute given a number', DOCUMENT, { department: 7, tags: [], legal_hold: false }, 'attributes.department', /must be a string, not number/],
    ['a set member that is not a string', DOCUMENT, { department: 'x', tags: ['a', 1], legal_hold: false }, 'attributes.tags.1', /must be a string/],
    ['a boolean given a string', DOCUMENT, { department: 'x', tags: [], legal_hold: 'yes' }, 'attributes.legal_hold', /boolean/],
    ['a decimal with five places', BANK_ACCOUNT, { daily_limit: 1.23456, currency: 'EUR' }, 'attributes.daily_limit', /4 decimal places/],
    ['a decimal given as a string', BANK_ACCOUNT, { daily_limit: '12', currency: 'EUR' }, 'attributes.daily_limit', /must be a number, not string/],
    ['null for a required attribute', BANK_ACCOUNT, { daily_limit: null, currency: 'EUR' }, 'attributes.daily_limit', /not null/],
  ])('refuses %s, naming the member', (_, decl, values, field, message) => {
    const r = convertAttributes(decl, values);
    expect('problems' in r).toBe(true);
    if ('problems' in r) {
      expect(r.problems[0].field).toBe(field);
      expect(r.problems[0].message).toMatch(message);
    }
  });

  it('matches a gateway resource.type ignoring case, "_" and "-"', () => {
    expect(typeKey('bank_account')).toBe(typeKey('BankAccount'));
    expect(typeKey('bank-account')).toBe(typeKey('BANKACCOUNT'));
    expect(typeKey('document')).not.toBe(typeKey('BankAccount'));
  });
});
