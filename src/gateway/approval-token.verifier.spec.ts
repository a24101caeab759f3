import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { callHash } from '../common/canonical-json';
import { APPROVAL_TOKEN_TYP, ApprovalTokenRejected, ApprovalTokenVerifier } from './approval-token.verifier';

const ISSUER = 'https://countersign.test';
const GATEWAY = 'gateway-mcp';
const CALL = { authReqId: 'areq_1', server: 'payments', tool: 'transfer_funds', arguments: { amount: 120, to: 'DE89', currency: 'EUR' } };

describe('the approval token is checked against exactly the call being forwarded', () => {
  let sign: (claims?: Record<string, unknown>, opts?: { iss?: string; aud?: string; typ?: string; exp?: number | string }) => Promise<string>;
  let verifier: ApprovalTokenVerifier;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    verifier = new ApprovalTokenVerifier('http://unused', ISSUER, GATEWAY, createLocalJWKSet({ keys: [jwk] }));
    sign = (claims = {}, opts = {}) =>
      new SignJWT({ auth_req_id: CALL.authReqId, call_hash: callHash(CALL), ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: opts.typ ?? APPROVAL_TOKEN_TYP })
        .setIssuer(opts.iss ?? ISSUER)
        .setAudience(opts.aud ?? GATEWAY)
        .setIssuedAt()
        .setJti(randomUUID())
        .setExpirationTime(opts.exp ?? '2m')
        .sign(privateKey);
  });

  const refused = async (token: string, call = CALL) => {
    const e = await verifier.verify(token, call).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ApprovalTokenRejected);
    return (e as Error).message;
  };

  it('accepts the token for this call, with its arguments in any key order', async () => {
    await expect(verifier.verify(await sign(), { ...CALL, arguments: { currency: 'EUR', to: 'DE89', amount: 120 } })).resolves.toBeUndefined();
  });

  it('refuses arguments changed after approval, another tool, and another approval request', async () => {
    expect(await refused(await sign(), { ...CALL, arguments: { ...CALL.arguments, amount: 121 } })).toContain('call_hash mismatch');
    expect(await refused(await sign(), { ...CALL, tool: 'refund' })).toContain('call_hash mismatch');
    expect(await refused(await sign(), { ...CALL, authReqId: 'areq_2' })).toContain('another approval request');
  });

  it('refuses a replay of a token already used', async () => {
    const token = await sign();
    await verifier.verify(token, CALL);
    expect(await refused(token)).toContain('already used');
  });

  it('refuses another issuer, another audience, another typ, an expired token and a foreign key', async () => {
    expect(await refused(await sign({}, { iss: 'https://evil.test' }))).toBe('the approval token is from another issuer');
    expect(await refused(await sign({}, { aud: 'another-gateway' }))).toBe('the approval token is for another audience');
    expect(await refused(await sign({}, { typ: 'JWT' }))).toBe('the approval token is of another type');
    expect(await refused(await sign({}, { exp: Math.floor(Date.now() / 1000) - 60 }))).toBe('the approval token has expired');
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT({ auth_req_id: CALL.authReqId, call_hash: callHash(CALL) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: APPROVAL_TOKEN_TYP })
      .setIssuer(ISSUER)
      .setAudience(GATEWAY)
      .setJti(randomUUID())
      .setExpirationTime('2m')
      .sign(other.privateKey);
    expect(await refused(forged)).toBe('the approval token signature is not valid');
  });
});
