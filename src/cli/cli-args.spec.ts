/// <reference types="jest" />
import { parseCliArgs } from './cli-args';

const linkOptions = {
  tenant: { type: 'string' },
  request: { type: 'string' },
  approver: { type: 'string' },
  group: { type: 'string' },
  operator: { type: 'boolean' },
} as const;

describe('parseCliArgs', () => {
  it('reads --name value and --name=value', () => {
    expect(parseCliArgs(['--tenant', 'acme', '--request=abc', '--approver', 'bob'], linkOptions)).toMatchObject({
      tenant: 'acme',
      request: 'abc',
      approver: 'bob',
    });
  });

  it.each([['-Xk3pQ9a_bZ'], ['--9aF_-'], ['-'], ['-abc=def']])('takes an id that starts with "-" (%p) as the value, in both forms', (id) => {
    expect(parseCliArgs(['--tenant', 'acme', '--request', id, '--approver', 'bob'], linkOptions)).toMatchObject({ request: id, approver: 'bob' });
    expect(parseCliArgs(['--request=' + id, '--tenant', 'acme'], linkOptions)).toMatchObject({ request: id, tenant: 'acme' });
  });

  it('takes the next argument verbatim for an option with a value, even another option name', () => {
    expect(parseCliArgs(['--group', '--approver'], linkOptions)).toMatchObject({ group: '--approver' });
  });

  it('leaves boolean options alone', () => {
    expect(parseCliArgs(['--operator', '--tenant', 'acme'], linkOptions)).toMatchObject({ operator: true, tenant: 'acme' });
  });

  it.each([[['--nope', 'x']], [['--request']], [['positional']], [['--operator=yes']]])('refuses %p', (args) => {
    expect(() => parseCliArgs(args, linkOptions)).toThrow();
  });
});
