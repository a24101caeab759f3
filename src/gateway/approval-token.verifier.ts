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
  /** jti → exp (ms), when no shared record of used tokens is given. */
  private readonly used = new Map<string, number>();
  /**
   * True the first time a token id is presented: a token is forwarded once, here too, whatever
   * Countersign's single redeem does. In this process by default; shared by every instance with Redis.
   */
  private readonly useOnce: (jti: string, expiresAt: number) => Promise<boolean>;

  constructor(
    jwksUrl: string,
    private readonly issuer: string,
    private readonly audience: string,
    keys?: JWTVerifyGetKey,
    useOnce?: (jti: string, expiresAt: number) => Promise<boolean>,
  ) {
    this.keys = keys ?? createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    this.useOnce = useOnce ?? (async (jti, expiresAt) => this.useOnceHere(jti, expiresAt));
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
    let first: boolean;
    try {
      first = await this.useOnce(String(payload.jti), Number(payload.exp) * 1000);
    } catch {
      throw new ApprovalTokenRejected('whether the approval token was already used cannot be checked (the state store failed)');
    }
    if (!first) throw new ApprovalTokenRejected('the approval token was already used');
  }

  private useOnceHere(jti: string, expiresAt: number): boolean {
    const now = Date.now();
    for (const [id, exp] of this.used) if (exp <= now) this.used.delete(id);
    if (this.used.has(jti)) return false;
    this.used.set(jti, expiresAt);
    return true;
  }
}
