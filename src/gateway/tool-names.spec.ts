import { namespacedTool, splitToolName } from './tool-names';

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
