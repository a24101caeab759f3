/**
 * Why a JWT failed verification, in our own words. jose's messages, codes and claim-check
 * reasons (`unexpected "aud" claim value`, `ERR_JWS_INVALID`, `check_failed`) describe its
 * internals and change between its versions; clients get these sentences instead, and the
 * expiry that a client can act on (ask for a new token or link) gets a type of its own.
 */
import { errors } from 'jose';
import { InvalidToken } from './protocol-errors';

/** The registered claims jose checks; only these names are echoed back (anything else is "one of its claims"). */
const CHECKED_CLAIMS = new Set(['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti', 'typ']);

/** What is wrong with `subject` ("the token", "the client assertion", …), for an error_description. */
export function tokenProblem(e: unknown, subject = 'the token'): string {
  if (e instanceof errors.JWTExpired) return `${subject} has expired`;
  if (e instanceof errors.JWTClaimValidationFailed) return claimProblem(e.claim, e.reason, subject);
  if (e instanceof errors.JWSSignatureVerificationFailed) return `${subject} signature is not valid`;
  if (e instanceof errors.JWKSNoMatchingKey) return `${subject} was not signed by a trusted key`;
  if (e instanceof errors.JOSEAlgNotAllowed) return `${subject} uses an algorithm that is not allowed`;
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return `${subject} is malformed`;
  return `${subject} is not valid`;
}

function claimProblem(claim: string, reason: string, subject: string): string {
  if (!CHECKED_CLAIMS.has(claim)) return `one of the claims of ${subject} is not valid`;
  if (reason === 'missing') return `${subject} has no "${claim}" claim`;
  if (claim === 'aud') return `${subject} is for another audience`;
  if (claim === 'iss') return `${subject} is from another issuer`;
  if (claim === 'nbf') return `${subject} is not valid yet`;
  if (claim === 'iat') return `${subject}'s "iat" claim is in the future`;
  if (claim === 'typ') return `${subject} is of another type`;
  return `${subject}'s "${claim}" claim is not valid`;
}

/** A bearer credential past its `exp`: still a 401 invalid_token, but one the approval page can say "expired" for. */
export class ExpiredCredential extends InvalidToken {}

/** The 401 for a credential jose refused: ExpiredCredential when it has expired, InvalidToken otherwise. */
export function invalidToken(e: unknown, subject = 'the token', prefix = ''): InvalidToken {
  const description = prefix + tokenProblem(e, subject);
  return e instanceof errors.JWTExpired ? new ExpiredCredential(description) : new InvalidToken(description);
}
