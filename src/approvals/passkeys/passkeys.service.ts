import { Inject, Injectable } from '@nestjs/common';
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { decodeCredentialPublicKey } from '@simplewebauthn/server/helpers';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { ApproverPrincipal } from '../../common/auth/auth.decorators';
import { Conflict, Forbidden, InvalidRequest, NotFound, PasskeyRefused } from '../../common/errors/protocol-errors';
import { APP_CONFIG, AppConfig, webAuthnRelyingParty } from '../../config/app-config';
import { ApprovalRequest } from '../approval-request.entity';
import { effectiveStatus } from '../approval-view';
import { ineligibility } from '../../vocabulary/approver-eligibility';
import { PasskeyChallenge, PasskeyCredential, PasskeyPreference } from './passkey.entity';
import { coseToJwk, DecisionBinding, decisionChallenge, mismatchedFields, PasskeyDecision, PasskeyEvidence } from './passkey-proof';
import type { Assertion } from './passkey.schema';

/** A challenge is answered within this long, or not at all (the browser's own timeout is shorter). */
const CHALLENGE_TTL_MS = 5 * 60_000;
const CEREMONY_TIMEOUT_MS = 120_000;
/** ES256, EdDSA, RS256: what authenticators make and node:crypto verifies offline from a JWK. */
const ALGORITHMS = [-7, -8, -257];

export interface PasskeySummary {
  id: string;
  name: string | null;
  credential_id: string;
  transports: string[];
  created_at: string;
  last_used_at: string | null;
}

const summary = (c: PasskeyCredential): PasskeySummary => ({
  id: c.id,
  name: c.name,
  credential_id: c.credentialId,
  transports: c.transports,
  created_at: c.createdAt.toISOString(),
  last_used_at: c.lastUsedAt?.toISOString() ?? null,
});

/** Why a vote must carry a passkey assertion: the request's policy, or the approver's own choice. */
export type ProofRequirement = 'policy' | 'approver' | null;

/**
 * Approvers' passkeys (WebAuthn, issue 15): registration, listing and removal per approver and
 * tenant; the "always use my passkey" choice; decision challenges that bind the request, the call,
 * the decision and the reason (passkey-proof.ts); and the check of a vote's assertion, inside the
 * vote's transaction, so that a refused proof changes nothing.
 */
@Injectable()
export class Passkeys {
  private readonly rp: { id: string; name: string; origins: string[] };

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.rp = webAuthnRelyingParty(config);
  }

  async list(approver: ApproverPrincipal): Promise<{ passkeys: PasskeySummary[]; always: boolean }> {
    const [rows, preference] = await Promise.all([
      this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId }, order: { createdAt: 'ASC' } }),
      this.dataSource.manager.findOne(PasskeyPreference, { where: { tenantId: approver.tenantId, approverId: approver.approverId } }),
    ]);
    return { passkeys: rows.map(summary), always: preference?.always ?? false };
  }

  /** The options for navigator.credentials.create(): user verification required, this approver's passkeys excluded. */
  async registrationOptions(approver: ApproverPrincipal) {
    const existing = await this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: approver.approverId,
      // Stable per (tenant, approver), opaque, within WebAuthn's 64 bytes.
      userID: createHash('sha256').update(`${approver.tenantId}\0${approver.approverId}`).digest(),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      supportedAlgorithmIDs: ALGORITHMS,
      timeout: CEREMONY_TIMEOUT_MS,
    });
    await this.issue({
      challenge: options.challenge,
      tenantId: approver.tenantId,
      approverId: approver.approverId,
      purpose: 'registration',
      approvalId: null,
      bound: null,
      expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS),
    });
    return options;
  }

  async register(
    approver: ApproverPrincipal,
    input: { name?: string; response: Parameters<typeof verifyRegistrationResponse>[0]['response'] },
  ): Promise<PasskeySummary> {
    const challenge = challengeOf(input.response.response.clientDataJSON, 'response.response.clientDataJSON');
    // Single-use: taken before it is checked, so a failed ceremony cannot be retried with it.
    if (!(await this.take(this.dataSource.manager, approver, 'registration', challenge))) {
      throw new PasskeyRefused(
        'passkey_challenge_unknown',
        'the registration challenge was not issued to this approver, was used already or has expired: start again',
      );
    }
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response: input.response,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origins,
        expectedRPID: this.rp.id,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (e) {
      throw new PasskeyRefused('passkey_invalid', `the new passkey did not verify: ${(e as Error).message}`, { field: 'response' });
    }
    if (!verified.verified) throw new PasskeyRefused('passkey_invalid', 'the new passkey did not verify', { field: 'response' });
    const { credential } = verified.registrationInfo;
    const [row] = await this.dataSource.query(
      `INSERT INTO passkey_credentials (tenant_id, approver_id, credential_id, public_key, counter, transports, name)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, credential_id) DO NOTHING
       RETURNING id`,
      [
        approver.tenantId,
        approver.approverId,
        credential.id,
        Buffer.from(credential.publicKey).toString('base64url'),
        credential.counter,
        JSON.stringify(input.response.response.transports ?? []),
        input.name ?? null,
      ],
    );
    if (!row) throw InvalidRequest.forFields([{ field: 'response.id', message: 'this passkey is registered already' }]);
    const saved = await this.dataSource.manager.findOneByOrFail(PasskeyCredential, { id: row.id });
    return summary(saved);
  }

  async remove(approver: ApproverPrincipal, id: string): Promise<void> {
    const result = await this.dataSource.manager.delete(PasskeyCredential, { tenantId: approver.tenantId, approverId: approver.approverId, id });
    if (!result.affected) throw new NotFound('no such passkey');
  }

  async setAlways(approver: ApproverPrincipal, always: boolean): Promise<{ always: boolean }> {
    if (always) {
      const count = await this.dataSource.manager.count(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
      if (!count) throw InvalidRequest.forFields([{ field: 'always', message: 'register a passkey first: with none, you could not decide at all' }]);
    }
    await this.dataSource.manager.upsert(PasskeyPreference, { tenantId: approver.tenantId, approverId: approver.approverId, always, updatedAt: new Date() }, [
      'tenantId',
      'approverId',
    ]);
    return { always };
  }

  /** Whether this approver's vote on this request must carry a passkey assertion, and why. */
  async requirement(
    request: Pick<ApprovalRequest, 'tenantId' | 'proof'>,
    approverId: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ProofRequirement> {
    if (request.proof === 'passkey') return 'policy';
    const preference = await manager.findOne(PasskeyPreference, { where: { tenantId: request.tenantId, approverId } });
    return preference?.always ? 'approver' : null;
  }

  /**
   * The challenge of one decision (decision + reason) on one request by this approver, and the
   * options for navigator.credentials.get() over it: only this approver's passkeys, user
   * verification required. Single-use, and it dies with the request or after five minutes.
   */
  async decisionChallenge(approver: ApproverPrincipal, approvalId: string, decision: PasskeyDecision, reason: string) {
    if (approver.authReqId !== approvalId) throw new Forbidden('this approver link is for another approval request');
    const request = await this.dataSource.manager.findOne(ApprovalRequest, { where: { id: approvalId, tenantId: approver.tenantId } });
    if (!request) throw new NotFound('no such approval request');
    const status = effectiveStatus(request);
    if (status !== 'pending') throw new Conflict('request_closed', `the approval request is ${status} and takes no more votes`, { status });
    const problem = ineligibility(request, approver);
    if (problem) throw new Forbidden(problem);
    const credentials = await this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
    if (!credentials.length)
      throw InvalidRequest.forFields([
        { field: 'passkey', message: `${approver.approverId} has no passkey registered: register one on the approval page first` },
      ]);
    const bound: DecisionBinding = {
      tenant: request.tenantId,
      auth_req_id: request.id,
      call_hash: request.callHash,
      approver: approver.approverId,
      decision,
      reason,
      nonce: randomBytes(16).toString('base64url'),
    };
    const challenge = decisionChallenge(bound);
    const expiresAt = new Date(Math.min(Date.now() + CHALLENGE_TTL_MS, request.expiresAt.getTime()));
    await this.issue({
      challenge,
      tenantId: approver.tenantId,
      approverId: approver.approverId,
      purpose: 'decision',
      approvalId: request.id,
      bound,
      expiresAt,
    });
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      // The digest's bytes, so that clientDataJSON.challenge is exactly `challenge`.
      challenge: Buffer.from(challenge, 'base64url'),
      allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      userVerification: 'required',
      timeout: CEREMONY_TIMEOUT_MS,
    });
    return { challenge, bound, expires_at: expiresAt.toISOString(), options };
  }

  /**
   * Checks a vote's passkey proof inside the vote's transaction (a refusal rolls everything back,
   * the challenge included). Without an assertion: refused when one is required, else no proof.
   * With one: its challenge must be one issued to this approver for a decision, still live, whose
   * binding is this request, call, decision and reason; it must verify (origin, RP id, user
   * verification, signature) with one of this approver's passkeys and carry a higher counter.
   * The challenge is then used up. Returns what the vote and its audit event keep.
   */
  async proveVote(
    manager: EntityManager,
    vote: { request: ApprovalRequest; approver: ApproverPrincipal; decision: PasskeyDecision; reason: string; assertion?: Assertion },
  ): Promise<PasskeyEvidence | null> {
    const { request, approver, assertion } = vote;
    if (!assertion) {
      const required = await this.requirement(request, approver.approverId, manager);
      if (required === 'policy')
        throw new PasskeyRefused('passkey_required', 'the policy requires this decision to be signed with a passkey: sign it on the approval page', {
          field: 'passkey',
        });
      if (required === 'approver')
        throw new PasskeyRefused('passkey_required', `${approver.approverId} chose to always decide with a passkey: sign the decision with it`, {
          field: 'passkey',
        });
      return null;
    }
    const challenge = challengeOf(assertion.response.clientDataJSON, 'passkey.response.clientDataJSON');
    const issued = await this.take(manager, approver, 'decision', challenge);
    if (!issued?.bound) {
      throw new PasskeyRefused(
        'passkey_challenge_unknown',
        "the assertion's challenge was not issued to this approver for a decision, was used already (a replay) or has expired",
        { field: 'passkey' },
      );
    }
    const voted = {
      tenant: request.tenantId,
      auth_req_id: request.id,
      call_hash: request.callHash,
      approver: approver.approverId,
      decision: vote.decision,
      reason: vote.reason,
    };
    const mismatched = mismatchedFields(issued.bound, voted);
    if (mismatched.length || decisionChallenge(issued.bound) !== challenge) {
      throw new PasskeyRefused('passkey_mismatch', `the assertion binds another ${mismatched.join(', ') || 'challenge'} than this vote`, {
        field: 'passkey',
        mismatched,
      });
    }
    const credential = await manager.findOne(PasskeyCredential, {
      where: { tenantId: approver.tenantId, approverId: approver.approverId, credentialId: assertion.id },
    });
    if (!credential)
      throw new PasskeyRefused('passkey_invalid', `the assertion is from a passkey that is not registered to ${approver.approverId}`, { field: 'passkey.id' });
    const publicKey = Buffer.from(credential.publicKey, 'base64url');
    let info: Awaited<ReturnType<typeof verifyAuthenticationResponse>>['authenticationInfo'];
    try {
      const result = await verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: challenge,
        expectedOrigin: this.rp.origins,
        expectedRPID: this.rp.id,
        credential: { id: credential.credentialId, publicKey, counter: Number(credential.counter), transports: credential.transports as never },
        requireUserVerification: true,
      });
      if (!result.verified) throw new Error('the signature does not verify');
      info = result.authenticationInfo;
    } catch (e) {
      throw new PasskeyRefused('passkey_invalid', `the assertion did not verify: ${(e as Error).message}`, { field: 'passkey' });
    }
    // Compare-and-set: two votes racing with one authenticator cannot both pass the same counter.
    const [, updated] = await manager.query(
      `UPDATE passkey_credentials SET counter = $2, last_used_at = now() WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))`,
      [credential.id, info.newCounter],
    );
    if (!updated)
      throw new PasskeyRefused('passkey_invalid', "the assertion's signature counter did not advance (a cloned authenticator or a replay)", {
        field: 'passkey',
      });
    const { jwk, algorithm } = coseToJwk(decodeCredentialPublicKey(publicKey) as unknown as Map<number, unknown>);
    return {
      format: 'webauthn-assertion/v1',
      bound: issued.bound,
      challenge,
      credential_id: credential.credentialId,
      public_key_cose: credential.publicKey,
      public_key_jwk: jwk,
      algorithm,
      authenticator_data: assertion.response.authenticatorData,
      client_data_json: assertion.response.clientDataJSON,
      signature: assertion.response.signature,
      rp_id: this.rp.id,
      origins: this.rp.origins,
      sign_count: info.newCounter,
      user_verified: info.userVerified,
    };
  }

  /** Stores a new challenge; this approver's expired ones go at the same time, so unanswered challenges do not pile up. */
  private async issue(row: Omit<PasskeyChallenge, 'createdAt'>): Promise<void> {
    await this.dataSource.query(`DELETE FROM passkey_challenges WHERE tenant_id = $1 AND approver_id = $2 AND expires_at <= now()`, [
      row.tenantId,
      row.approverId,
    ]);
    await this.dataSource.manager.insert(PasskeyChallenge, row);
  }

  /** Uses up a live challenge issued to this approver for this purpose; undefined when there is none. */
  private async take(
    manager: EntityManager,
    approver: ApproverPrincipal,
    purpose: PasskeyChallenge['purpose'],
    challenge: string,
  ): Promise<Pick<PasskeyChallenge, 'bound'> | undefined> {
    const [rows] = await manager.query(
      `DELETE FROM passkey_challenges
        WHERE challenge = $1 AND tenant_id = $2 AND approver_id = $3 AND purpose = $4 AND expires_at > now()
        RETURNING bound`,
      [challenge, approver.tenantId, approver.approverId, purpose],
    );
    return rows[0];
  }
}

/** The challenge inside a base64url clientDataJSON; a 400 naming `field` when it is not one. */
function challengeOf(clientDataJSON: string, field: string): string {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    if (typeof data.challenge === 'string' && data.challenge) return data.challenge;
  } catch {
    // below
  }
  throw InvalidRequest.forFields([{ field, message: 'must be base64url JSON with a challenge' }]);
}
