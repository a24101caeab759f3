import { Inject, Injectable } from '@nestjs/common';
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { decodeCredentialPublicKey } from '@simplewebauthn/server/helpers';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { EntitySelect, selectEntities } from '../../common/database/select-entities';
import { AuditLog } from '../../audit/audit-log.service';
import { ApproverPrincipal } from '../../common/auth/auth.decorators';
import { Conflict, Forbidden, InvalidRequest, NotFound, PasskeyRefused } from '../../common/errors/protocol-errors';
import { APP_CONFIG, AppConfig, webAuthnRelyingParty } from '../../config/app-config';
import { ApprovalRequest } from '../approval-request.entity';
import { effectiveStatus } from '../approval-view';
import { ineligibility } from '../../vocabulary/approver-eligibility';
import { PasskeyChallenge, PasskeyCredential, PasskeyPreference } from './passkey.entity';
import {
  BatchBinding,
  batchChallenge,
  BatchItemBinding,
  BatchPasskeyEvidence,
  coseToJwk,
  DecisionBinding,
  decisionChallenge,
  ManagementAction,
  ManagementBinding,
  managementChallenge,
  mismatchedBatch,
  mismatchedFields,
  PasskeyDecision,
  PasskeyEvidence,
  sortedBatchItems,
  VoteEvidence,
} from './passkey-proof';
import type { Assertion, ManagementChallengeInput } from './passkey.schema';

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

/** A batch assertion verified once (Passkeys.proveBatch); each vote of the batch keeps it, with its own place in the list. */
export interface VerifiedBatchProof {
  evidence: Omit<BatchPasskeyEvidence, 'item'>;
}

type ApproverRef = Pick<ApproverPrincipal, 'tenantId' | 'approverId'>;

/** Why a vote must carry a passkey assertion: the request's policy, or the approver's own choice. */
export type ProofRequirement = 'policy' | 'approver' | null;

/**
 * Approvers' passkeys (WebAuthn, issue 15): registration, listing and removal per approver and
 * tenant; the "always use my passkey" choice; decision challenges that bind the request, the call,
 * the decision and the reason (passkey-proof.ts); and the check of a vote's assertion, inside the
 * vote's transaction, so that a refused proof changes nothing.
 *
 * Guarded management: the first passkey is registered with the approver link alone (trust on first
 * use); from then on registering another, removing one and switching "always" off each need an
 * assertion from one of the approver's passkeys over a management challenge that binds the action
 * and its target, so that a stolen link alone cannot take over or weaken the approver's passkeys.
 */
@Injectable()
export class Passkeys {
  private readonly rp: { id: string; name: string; origins: string[] };

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.rp = webAuthnRelyingParty(config);
  }

  /** Options for navigator.credentials.get() over one of our challenges: user verification required, these passkeys only. */
  private assertionOptions(challenge: string, credentials: Pick<PasskeyCredential, 'credentialId' | 'transports'>[]) {
    return generateAuthenticationOptions({
      rpID: this.rp.id,
      // The digest's bytes, so that clientDataJSON.challenge is exactly `challenge`.
      challenge: Buffer.from(challenge, 'base64url'),
      allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      userVerification: 'required',
      timeout: CEREMONY_TIMEOUT_MS,
    });
  }

  /** An approver's passkeys (no key material: ids, names, dates) and their "always" choice; for them and for an admin. */
  async list(approver: Pick<ApproverPrincipal, 'tenantId' | 'approverId'>): Promise<{ passkeys: PasskeySummary[]; always: boolean }> {
    const [rows, preference] = await Promise.all([
      this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId }, order: { createdAt: 'ASC' } }),
      this.dataSource.manager.findOne(PasskeyPreference, { where: { tenantId: approver.tenantId, approverId: approver.approverId } }),
    ]);
    return { passkeys: rows.map(summary), always: preference?.always ?? false };
  }

  /**
   * An admin removes one of an approver's passkeys (a lost or compromised device), without the
   * approver's proof: the admin's credential is the authority. `actor` is who did it.
   */
  async removeByAdmin(approver: Pick<ApproverPrincipal, 'tenantId' | 'approverId'>, id: string, actor: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.lock(manager, approver);
      const removed = await manager.findOneBy(PasskeyCredential, { tenantId: approver.tenantId, approverId: approver.approverId, id });
      if (!removed) throw new NotFound('no such passkey');
      await manager.delete(PasskeyCredential, { id: removed.id });
      await this.audit.append(manager, {
        tenantId: approver.tenantId,
        type: 'passkey.removed_by_admin',
        actor,
        data: { approver: approver.approverId, passkey_id: removed.id, credential_id: removed.credentialId, name: removed.name },
      });
    });
  }

  /**
   * An admin resets an approver's passkeys: every passkey, the "always" choice and the challenges
   * still open go, so that the approver's next registration is a first one again (trust on first
   * use, with the link alone) and nothing signed with the old passkeys can still be used.
   */
  async resetByAdmin(approver: Pick<ApproverPrincipal, 'tenantId' | 'approverId'>, actor: string): Promise<void> {
    const mine = { tenantId: approver.tenantId, approverId: approver.approverId };
    await this.dataSource.transaction(async (manager) => {
      await this.lock(manager, approver);
      const removed = await manager.find(PasskeyCredential, { where: mine, order: { createdAt: 'ASC' } });
      const preference = await manager.findOneBy(PasskeyPreference, mine);
      await manager.delete(PasskeyCredential, mine);
      await manager.delete(PasskeyPreference, mine);
      await manager.delete(PasskeyChallenge, mine);
      await this.audit.append(manager, {
        tenantId: approver.tenantId,
        type: 'passkey.reset_by_admin',
        actor,
        data: {
          approver: approver.approverId,
          passkey_ids: removed.map((c) => c.id),
          credential_ids: removed.map((c) => c.credentialId),
          always_was: preference?.always ?? false,
        },
      });
    });
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
    input: { name?: string; proof?: Assertion; response: Parameters<typeof verifyRegistrationResponse>[0]['response'] },
  ): Promise<PasskeySummary> {
    const provedBy = await this.proveManagement(approver, 'register', null, input.proof);
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
    const saved = await this.dataSource.transaction(async (manager) => {
      // Serialises this approver's registrations: two registrations without a proof cannot both
      // find no passkey and both pass as the first.
      await this.lock(manager, approver);
      if (!provedBy) await this.requireNoPasskey(manager, approver, 'register');
      const [row] = await manager.query(
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
      const created = await manager.findOneByOrFail(PasskeyCredential, { id: row.id });
      await this.audit.append(
        manager,
        this.event(approver, 'passkey.registered', {
          credential_id: created.credentialId,
          passkey_id: created.id,
          name: created.name,
          proof_credential_id: provedBy,
        }),
      );
      return created;
    });
    return summary(saved);
  }

  async remove(approver: ApproverPrincipal, id: string, proof?: Assertion): Promise<void> {
    const mine = { tenantId: approver.tenantId, approverId: approver.approverId, id };
    // An unknown passkey is a 404 with or without a proof (and uses up no challenge).
    if (!(await this.dataSource.manager.existsBy(PasskeyCredential, mine))) throw new NotFound('no such passkey');
    const provedBy = await this.proveManagement(approver, 'remove', id, proof);
    await this.dataSource.transaction(async (manager) => {
      await this.lock(manager, approver);
      if (!provedBy) await this.requireNoPasskey(manager, approver, 'remove');
      const removed = await manager.findOneBy(PasskeyCredential, mine);
      if (!removed) throw new NotFound('no such passkey');
      await manager.delete(PasskeyCredential, { id: removed.id });
      await this.audit.append(
        manager,
        this.event(approver, 'passkey.removed', { credential_id: removed.credentialId, passkey_id: removed.id, proof_credential_id: provedBy }),
      );
    });
  }

  async setAlways(approver: ApproverPrincipal, always: boolean, proof?: Assertion): Promise<{ always: boolean }> {
    const provedBy = always ? null : await this.proveManagement(approver, 'preference', 'always=false', proof);
    await this.dataSource.transaction(async (manager) => {
      await this.lock(manager, approver);
      const count = await manager.count(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
      if (always && !count) throw InvalidRequest.forFields([{ field: 'always', message: 'register a passkey first: with none, you could not decide at all' }]);
      if (!always && !provedBy && count) throw this.proofRequired('preference');
      await manager.upsert(PasskeyPreference, { tenantId: approver.tenantId, approverId: approver.approverId, always, updatedAt: new Date() }, [
        'tenantId',
        'approverId',
      ]);
      await this.audit.append(manager, this.event(approver, 'passkey.preference', { always, proof_credential_id: provedBy }));
    });
    return { always };
  }

  /**
   * The challenge of one change to the approver's passkeys (register another, remove `passkey_id`,
   * switch `always` off), with the options for navigator.credentials.get(): only this approver's
   * passkeys, user verification required. Single-use, five minutes. The signed assertion goes with
   * the change as `proof`.
   */
  async managementChallenge(approver: ApproverPrincipal, input: ManagementChallengeInput) {
    const credentials = await this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
    if (!credentials.length)
      throw InvalidRequest.forFields([
        { field: 'action', message: `${approver.approverId} has no passkey yet: the first one is registered, and anything changed, with the link alone` },
      ]);
    let target: string | null = null;
    if (input.action === 'remove') {
      const passkeyId = input.passkey_id;
      if (!passkeyId || !credentials.some((c) => c.id === passkeyId)) throw new NotFound('no such passkey');
      target = passkeyId;
    } else if (input.action === 'preference') target = 'always=false';
    const bound: ManagementBinding = {
      tenant: approver.tenantId,
      approver: approver.approverId,
      action: input.action,
      target,
      nonce: randomBytes(16).toString('base64url'),
    };
    const challenge = managementChallenge(bound);
    const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
    await this.issue({ challenge, tenantId: approver.tenantId, approverId: approver.approverId, purpose: 'management', approvalId: null, bound, expiresAt });
    const options = await this.assertionOptions(challenge, credentials);
    return { challenge, bound, expires_at: expiresAt.toISOString(), options };
  }

  /**
   * Checks a management proof: without one, null (the caller then allows the change only while the
   * approver has no passkey). With one: its challenge must be a live management challenge issued
   * to this approver for exactly this action and target; it is used up, and the assertion must
   * verify with one of the approver's passkeys and advance its counter. Returns that passkey's
   * credential id.
   */
  private async proveManagement(approver: ApproverPrincipal, action: ManagementAction, target: string | null, proof?: Assertion): Promise<string | null> {
    if (!proof) return null;
    const challenge = challengeOf(proof.response.clientDataJSON, 'proof.response.clientDataJSON');
    return this.dataSource
      .transaction(async (manager) => {
        const issued = await this.take(manager, approver, 'management', challenge);
        const bound = issued?.bound as ManagementBinding | null | undefined;
        if (!bound)
          throw new PasskeyRefused(
            'passkey_challenge_unknown',
            "the proof's challenge was not issued to this approver for a passkey change, was used already (a replay) or has expired",
            { field: 'proof' },
          );
        if (bound.action !== action || bound.target !== target || managementChallenge(bound) !== challenge)
          throw new PasskeyRefused(
            'passkey_mismatch',
            `the proof signs ${bound.action} ${bound.target ?? ''}`.trim() + `, not ${action} ${target ?? ''}`.trim(),
            {
              field: 'proof',
            },
          );
        const { credential } = await this.verifyAssertion(manager, approver, proof, challenge, 'proof');
        return credential.credentialId;
      })
      .catch(async (e: unknown) => {
        // A refused proof still uses up its challenge: a failed ceremony is started again.
        await this.take(this.dataSource.manager, approver, 'management', challenge);
        throw e;
      });
  }

  private proofRequired(action: ManagementAction): PasskeyRefused {
    const what = { register: 'register another passkey', remove: 'remove a passkey', preference: 'switch "always use my passkey" off' }[action];
    return new PasskeyRefused('passkey_required', `you have a passkey: to ${what}, sign a management challenge with it and send the assertion as proof`, {
      field: 'proof',
    });
  }

  /** Refuses a change without proof once the approver has a passkey. */
  private async requireNoPasskey(manager: EntityManager, approver: ApproverPrincipal, action: ManagementAction): Promise<void> {
    const count = await manager.count(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
    if (count) throw this.proofRequired(action);
  }

  /** Serialises the changes to one approver's passkeys (until the transaction ends). */
  private async lock(manager: EntityManager, approver: Pick<ApproverPrincipal, 'tenantId' | 'approverId'>): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [JSON.stringify(['passkeys', approver.tenantId, approver.approverId])]);
  }

  private event(approver: ApproverPrincipal, type: string, data: Record<string, string | boolean | null>) {
    return {
      tenantId: approver.tenantId,
      type,
      actor: `approver:${approver.approverId}`,
      data: { approver: approver.approverId, link_id: approver.linkId, ...data },
    };
  }

  /** Whether this approver's vote on this request must carry a passkey assertion, and why. */
  async requirement(
    request: Pick<ApprovalRequest, 'tenantId' | 'proof'>,
    approverId: string,
    manager: EntityManager = this.dataSource.manager,
    /** The preference's rows when already read (`preferenceOf`). */
    known?: PasskeyPreference[],
  ): Promise<ProofRequirement> {
    if (request.proof === 'passkey') return 'policy';
    const [preference] = known ?? (await selectEntities(manager, PasskeyPreference, this.preferenceOf(request.tenantId, approverId).where));
    return preference?.always ? 'approver' : null;
  }

  /** The read of an approver's "always use my passkey" preference, for a vote to make with its request's lock (`proveVote`'s `preference`). */
  preferenceOf(tenantId: string, approverId: string): EntitySelect<PasskeyPreference> {
    return { entity: PasskeyPreference, where: { tenantId, approverId } };
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
    const credentials = await this.registeredPasskeys(approver, 'the approval page');
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
    const options = await this.assertionOptions(challenge, credentials);
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
    vote: {
      request: ApprovalRequest;
      approver: ApproverPrincipal;
      decision: PasskeyDecision;
      reason: string;
      assertion?: Assertion;
      batch?: VerifiedBatchProof;
      /** The approver's preference as read in this transaction (`preferenceOf`); read here when not given. */
      preference?: PasskeyPreference[];
    },
  ): Promise<VoteEvidence | null> {
    const { request, approver, assertion } = vote;
    if (vote.batch) return this.batchItemEvidence(vote.batch, { request, approver, decision: vote.decision, reason: vote.reason });
    if (!assertion) {
      const required = await this.requirement(request, approver.approverId, manager, vote.preference);
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
    // A challenge of purpose `decision` binds a decision (the table's CHECK keeps it so).
    const bound = issued?.bound as DecisionBinding | null | undefined;
    if (!bound) {
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
    const mismatched = mismatchedFields(bound, voted);
    if (mismatched.length || decisionChallenge(bound) !== challenge) {
      throw new PasskeyRefused('passkey_mismatch', `the assertion binds another ${mismatched.join(', ') || 'challenge'} than this vote`, {
        field: 'passkey',
        mismatched,
      });
    }
    return { format: 'webauthn-assertion/v1', bound, ...(await this.verifiedEvidence(manager, approver, assertion, challenge)) };
  }

  /**
   * The challenge of a batch of decisions by this approver, each item's request already checked by
   * the caller (in the batch, pending, this approver's to decide), and the options for
   * navigator.credentials.get() over it. Single-use; it dies after five minutes or with the first
   * of its requests to expire.
   */
  async batchDecisionChallenge(approver: ApproverRef, items: BatchItemBinding[], requestsExpireAt: Date) {
    const credentials = await this.registeredPasskeys(approver, 'an approval page');
    const bound: BatchBinding = {
      tenant: approver.tenantId,
      approver: approver.approverId,
      items: sortedBatchItems(items),
      nonce: randomBytes(16).toString('base64url'),
    };
    const challenge = batchChallenge(bound);
    const expiresAt = new Date(Math.min(Date.now() + CHALLENGE_TTL_MS, requestsExpireAt.getTime()));
    await this.issue({
      challenge,
      tenantId: approver.tenantId,
      approverId: approver.approverId,
      purpose: 'batch_decision',
      approvalId: null,
      bound,
      expiresAt,
    });
    const options = await this.assertionOptions(challenge, credentials);
    return { challenge, bound, expires_at: expiresAt.toISOString(), options };
  }

  /**
   * Verifies a batch's one assertion before any of its votes is recorded: its challenge must be a
   * live batch challenge issued to this approver whose items are exactly `items` (the same
   * requests, calls, decisions and reasons: nothing more, nothing less); the assertion must verify
   * with one of the approver's passkeys (user verification required) and advance its counter. The
   * challenge is then used up. A refusal changes nothing (its transaction rolls back).
   */
  async proveBatch(approver: ApproverRef, items: BatchItemBinding[], assertion: Assertion): Promise<VerifiedBatchProof> {
    const challenge = challengeOf(assertion.response.clientDataJSON, 'passkey.response.clientDataJSON');
    return this.dataSource.transaction(async (manager) => {
      const issued = await this.take(manager, approver, 'batch_decision', challenge);
      const bound = issued?.bound as BatchBinding | null | undefined;
      if (!bound)
        throw new PasskeyRefused(
          'passkey_challenge_unknown',
          "the assertion's challenge was not issued to this approver for a batch decision, was used already (a replay) or has expired",
          { field: 'passkey' },
        );
      const mismatched = mismatchedBatch(bound, { tenant: approver.tenantId, approver: approver.approverId, items });
      if (mismatched.length || batchChallenge(bound) !== challenge)
        throw new PasskeyRefused(
          'passkey_mismatch',
          `the assertion signs another batch than these votes (${mismatched.join(', ') || 'challenge'}): sign again`,
          {
            field: 'passkey',
            mismatched,
          },
        );
      return {
        evidence: {
          format: 'webauthn-batch-assertion/v1' as const,
          bound: { ...bound, items: sortedBatchItems(bound.items) },
          ...(await this.verifiedEvidence(manager, approver, assertion, challenge)),
        },
      };
    });
  }

  /** One vote's evidence out of a verified batch: refused unless the batch signed exactly this vote. */
  private batchItemEvidence(
    batch: VerifiedBatchProof,
    vote: { request: ApprovalRequest; approver: ApproverPrincipal; decision: PasskeyDecision; reason: string },
  ): BatchPasskeyEvidence {
    const { bound } = batch.evidence;
    const item = bound.items.findIndex((i) => i.auth_req_id === vote.request.id);
    const signed = bound.items[item];
    const voted = { auth_req_id: vote.request.id, call_hash: vote.request.callHash, decision: vote.decision, reason: vote.reason };
    const mismatched = [
      ...(bound.tenant !== vote.request.tenantId ? ['tenant'] : []),
      ...(bound.approver !== vote.approver.approverId ? ['approver'] : []),
      ...(signed ? (['call_hash', 'decision', 'reason'] as const).filter((k) => signed[k] !== voted[k]) : ['auth_req_id']),
    ];
    if (mismatched.length)
      throw new PasskeyRefused('passkey_mismatch', `the batch assertion binds another ${mismatched.join(', ')} than this vote`, {
        field: 'passkey',
        mismatched,
      });
    return { ...batch.evidence, item };
  }

  /**
   * Verifies an assertion over `challenge` with one of this approver's passkeys (origin, RP id,
   * user verification, signature) and advances that passkey's counter; refusals name `field`.
   */
  /** The approver's passkeys for a decision challenge; none is a 400 naming `passkey` that says where to register one. */
  private async registeredPasskeys(approver: ApproverRef, page: string): Promise<PasskeyCredential[]> {
    const credentials = await this.dataSource.manager.find(PasskeyCredential, { where: { tenantId: approver.tenantId, approverId: approver.approverId } });
    if (!credentials.length) {
      throw InvalidRequest.forFields([{ field: 'passkey', message: `${approver.approverId} has no passkey registered: register one on ${page} first` }]);
    }
    return credentials;
  }

  /** Verifies a vote's (or a batch's) assertion and says what an auditor needs to check it offline: the key, the signed data, the counter. */
  private async verifiedEvidence(
    manager: EntityManager,
    approver: ApproverRef,
    assertion: Assertion,
    challenge: string,
  ): Promise<Omit<PasskeyEvidence, 'format' | 'bound'>> {
    const { credential, publicKey, info } = await this.verifyAssertion(manager, approver, assertion, challenge, 'passkey');
    const { jwk, algorithm } = coseToJwk(decodeCredentialPublicKey(publicKey) as unknown as Map<number, unknown>);
    return {
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

  private async verifyAssertion(manager: EntityManager, approver: ApproverRef, assertion: Assertion, challenge: string, field: string) {
    const credential = await manager.findOne(PasskeyCredential, {
      where: { tenantId: approver.tenantId, approverId: approver.approverId, credentialId: assertion.id },
    });
    if (!credential)
      throw new PasskeyRefused('passkey_invalid', `the assertion is from a passkey that is not registered to ${approver.approverId}`, { field: `${field}.id` });
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
      throw new PasskeyRefused('passkey_invalid', `the assertion did not verify: ${(e as Error).message}`, { field });
    }
    // Compare-and-set: two votes racing with one authenticator cannot both pass the same counter.
    const [, updated] = await manager.query(
      `UPDATE passkey_credentials SET counter = $2, last_used_at = now() WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))`,
      [credential.id, info.newCounter],
    );
    if (!updated)
      throw new PasskeyRefused('passkey_invalid', "the assertion's signature counter did not advance (a cloned authenticator or a replay)", {
        field,
      });
    return { credential, publicKey, info };
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
    approver: ApproverRef,
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
