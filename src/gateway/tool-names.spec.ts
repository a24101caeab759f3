import { collisionMessage, namespacedTool, NameTable, splitToolName } from './tool-names';

describe('namespaced tool names', () => {
  it.each([
    ['payments__transfer_funds', { server: 'payments', tool: 'transfer_funds' }],
    ['files__dir__list', { server: 'files', tool: 'dir__list' }],
    ['my_server__a', { server: 'my_server', tool: 'a' }],
  ])('%s splits at the first "__"', (name, parts) => {
    expect(splitToolName(name)).toEqual(parts);
    expect(namespacedTool(parts.server, parts.tool)).toBe(name);
  });

  it.each(['transfer_funds', '__tool', 'server__', ''])('%j names no server tool', (name) => {
    expect(splitToolName(name)).toBeUndefined();
  });
});

describe('the name table', () => {
  const lists = new Map([
    ['files', ['read_file', 'search']],
    ['crm', ['search', 'find_contact']],
  ]);

  it('namespaced: every name is <server>__<tool> and resolves without a collision', () => {
    const table = new NameTable('namespaced', lists);
    expect(table.exposed('crm', 'search')).toBe('crm__search');
    expect(table.collisions()).toEqual([]);
    expect(table.resolve('crm__search')).toEqual({ server: 'crm', tool: 'search' });
  });

  it('plain: a unique name resolves to its server; a name two servers offer resolves to neither', () => {
    const table = new NameTable('plain', lists);
    expect(table.exposed('files', 'read_file')).toBe('read_file');
    expect(table.resolve('read_file')).toEqual({ server: 'files', tool: 'read_file' });
    expect(table.resolve('find_contact')).toEqual({ server: 'crm', tool: 'find_contact' });
    expect(table.resolve('search')).toEqual({ collision: ['files', 'crm'] });
    expect(table.resolve('nope')).toBeUndefined();
    expect(table.collisions()).toEqual([{ name: 'search', servers: ['files', 'crm'] }]);
    expect(collisionMessage('tool', table.collisions())).toContain('"search" is offered by files and crm');
  });
});
