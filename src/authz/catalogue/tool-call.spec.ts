import { outsideCatalogue } from './tool-call';
import { tenantCatalogue } from './tenant-schema';

const OBJECT = { type: 'object' };

describe('outsideCatalogue: which calls the built-in tool_not_in_catalogue denies', () => {
  const catalogue = tenantCatalogue(3, [
    { server: 'payments', name: 'transfer_funds', inputSchema: OBJECT },
    { server: 'payments', name: 'get_balance', inputSchema: OBJECT },
  ]);

  it('a catalogued tool is inside', () => {
    expect(outsideCatalogue(catalogue, { server: 'payments', tool: 'transfer_funds' })).toBe(false);
  });

  it.each([
    ['another tool of a catalogued server', 'payments', 'refund'],
    ['a server never registered', 'docs', 'read_document'],
    ['a tool of the same name on another server', 'billing', 'transfer_funds'],
    ['a name that only differs in case', 'payments', 'Transfer_Funds'],
  ])('%s is outside', (_, server, tool) => {
    expect(outsideCatalogue(catalogue, { server, tool })).toBe(true);
  });

  it('a tenant that never had a catalogue, or whose catalogue has no tool left, keeps evaluating every call as call_tool', () => {
    expect(outsideCatalogue(undefined, { server: 'docs', tool: 'read_document' })).toBe(false);
    expect(outsideCatalogue(tenantCatalogue(7, []), { server: 'docs', tool: 'read_document' })).toBe(false);
  });
});
