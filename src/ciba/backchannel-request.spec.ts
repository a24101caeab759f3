import { z } from 'zod';
import { InvalidRequest } from '../common/errors/protocol-errors';
import { parseInput } from '../common/validation';
import { backchannelForm } from './backchannel-request';

describe('a backchannel authentication form names what is wrong with a member', () => {
  const problemsOf = (schema: z.ZodType, input: unknown) => {
    try {
      parseInput(schema, input);
    } catch (e) {
      return (e as InvalidRequest).extra.errors;
    }
    throw new Error('accepted');
  };

  it('a missing member is required, a wrongly typed one says its type, even where the schema wrote the missing case', () => {
    const problems = problemsOf(backchannelForm, { authorization_details: 5 });
    expect(problems).toEqual(
      expect.arrayContaining([
        { field: 'scope', message: 'is required' },
        { field: 'authorization_details', message: 'must be a string, not number' },
      ]),
    );
  });

  it('a repeated form or query parameter (parsed as a list) is named as repeated, not as missing', () => {
    const problems = problemsOf(backchannelForm, { scope: ['openid', 'openid'], authorization_details: '[]' });
    expect(problems).toEqual([{ field: 'scope', message: 'must be given once (a single string), not repeated or a list' }]);
  });
});
