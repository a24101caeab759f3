import { errors } from 'jose';
import { InvalidToken } from './protocol-errors';
import { ExpiredCredential, invalidToken, tokenProblem } from './token-errors';

const claimFailure = (claim: string, reason: string) => new errors.JWTClaimValidationFailed(`jose's own words about "${claim}"`, {}, claim, reason);

describe('why a token was refused is said in our words, never jose’s', () => {
  it.each([
    ['an expired token', new errors.JWTExpired('"exp" claim timestamp check failed', {}, 'exp', 'check_failed'), 'the token has expired'],
    ['a token for another audience', claimFailure('aud', 'check_failed'), 'the token is for another audience'],
    ['a token from another issuer', claimFailure('iss', 'check_failed'), 'the token is from another issuer'],
    ['a token without a required claim', claimFailure('exp', 'missing'), 'the token has no "exp" claim'],
    ['a token not valid yet', claimFailure('nbf', 'check_failed'), 'the token is not valid yet'],
    ['a token of another type', claimFailure('typ', 'check_failed'), 'the token is of another type'],
    ['a claim jose names that we do not', claimFailure('x-private', 'invalid'), 'one of the claims of the token is not valid'],
    ['a bad signature', new errors.JWSSignatureVerificationFailed(), 'the token signature is not valid'],
    ['an unknown key', new errors.JWKSNoMatchingKey(), 'the token was not signed by a trusted key'],
    [
      'a refused algorithm',
      new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed'),
      'the token uses an algorithm that is not allowed',
    ],
    ['a malformed JWS', new errors.JWSInvalid('Invalid Compact JWS'), 'the token is malformed'],
    ['a malformed JWT', new errors.JWTInvalid('JWTs must use Compact JWS serialization, JWT must be a string'), 'the token is malformed'],
    ['any other jose error', new errors.JWKSTimeout(), 'the token is not valid'],
    ['something that is not jose’s', new TypeError('Cannot read properties of undefined'), 'the token is not valid'],
  ])('%s', (_what, error, sentence) => {
    const said = tokenProblem(error);
    expect(said).toBe(sentence);
    expect(said).not.toContain(error.message);
    if (error instanceof errors.JOSEError) expect(said).not.toContain(error.code);
  });

  it('names what was refused', () => {
    expect(tokenProblem(claimFailure('aud', 'check_failed'), 'the client assertion')).toBe('the client assertion is for another audience');
  });

  it('an expired credential is an ExpiredCredential (still a 401 invalid_token); any other failure a plain InvalidToken', () => {
    const expired = invalidToken(new errors.JWTExpired('x', {}, 'exp', 'check_failed'), 'the token', 'approver link: ');
    expect(expired).toBeInstanceOf(ExpiredCredential);
    expect(expired).toBeInstanceOf(InvalidToken);
    expect(expired.body()).toEqual({ error: 'invalid_token', error_description: 'approver link: the token has expired' });
    const other = invalidToken(new errors.JWSSignatureVerificationFailed());
    expect(other).not.toBeInstanceOf(ExpiredCredential);
    expect(other.status).toBe(401);
  });
});
