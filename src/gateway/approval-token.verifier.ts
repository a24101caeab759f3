import { createRemoteJWKSet, JWTVerifyGetKey, jwtVerify } from 'jose';
import { tokenProblem } from '../common/errors/token-errors';
import { callHash } from '../common/canonical-json';

/** The `typ` Countersign gives approval tokens (src/approvals/approval-tokens.service.ts). */
export const APPROVAL_TOKEN_TYP = 'countersign-approval+jwt';

export class ApprovalTokenRejected extends Error {}

export interface ApprovedCall {
  authReqId: string;
  server: string;
  tool: string;
  /** Exactly the arguments about to be forwarded. */
  arguments: Record<string, unknown>;
}

/**
 * Checks an approval token before the call it approves is forwarded: signature against
 * Countersign's JWKS, iss, aud (this gateway), exp, typ, that it is for this auth_req_id, that its
 * call_hash is the hash of exactly the call about to be sent, and that its jti was not seen before.
 */
export class ApprovalTokenVerifier {
  private readonly keys: JWTVerifyGetKey;
  /** jti → exp (ms): a token is forwarded once, here too, whatever Countersign's single redeem does. */
  private readonly used = new Map<string, number>();

  constructor(
    jwksUrl: string,
    private readonly issuer: string,
    private readonly audience: string,
    keys?: JWTVerifyGetKey,
  ) {
    this.keys = keys ?? createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  }

  async verify(token: string, call: ApprovedCall): Promise<void> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience: this.audience,
        typ: APPROVAL_TOKEN_TYP,
        algorithms: ['ES256', 'EdDSA'],
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (e) {
      throw new ApprovalTokenRejected(tokenProblem(e, 'the approval token'));
    }
    if (payload.auth_req_id !== call.authReqId) throw new ApprovalTokenRejected('the approval token is for another approval request');
    const expected = callHash({ server: call.server, tool: call.tool, arguments: call.arguments });
    if (payload.call_hash !== expected) throw new ApprovalTokenRejected('the approval token was issued for a different call (call_hash mismatch)');
    const now = Date.now();
    for (const [jti, exp] of this.used) if (exp <= now) this.used.delete(jti);
    const jti = String(payload.jti);
    if (this.used.has(jti)) throw new ApprovalTokenRejected('the approval token was already used');
    this.used.set(jti, Number(payload.exp) * 1000);
  }
}
