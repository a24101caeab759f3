/**
 * Passkey-signed decisions against the running service (issue 15), with a software authenticator
 * that makes real registrations and ES256 assertions: registering, listing and removing passkeys;
 * a vote signed over its request, call, decision and reason, verified and kept with its audit
 * event (which verifies offline); and every refusal (no passkey where one is required, another
 * decision, reason or request, a replayed or foreign challenge, no user verification), each of
 * which changes nothing.
 */
import { DataSource } from 'typeorm';
import { Passkeys1764180000000 } from '../../migrations/1764180000000-passkeys';
import { PasskeyManagement1764190000000 } from '../../migrations/1764190000000-passkey-management';
import { BatchPasskeyChallenges1764230000000 } from '../../migrations/1764230000000-batch-passkey-challenges';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { checkPasskeyEvidence, managementChallenge, PasskeyEvidence } from '../../src/approvals/passkeys/passkey-proof';
import { callHash } from '../../src/common/canonical-json';
import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { SoftAuthenticator } from '../support/soft-authenticator';

const ORIGIN = 'http://localhost:3000'; // PUBLIC_URL's default: RP id localhost

describe('passkeys: registration and passkey-signed decisions', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env?.teardown());

  const park = (obligation: Record<string, unknown> = {}) => {
    const body = parkBody();
    body.obligation = { ...body.obligation, ...obligation };
    return parkApproval(api, gateway, body);
  };
  const link = async (id: string, approverId: string, tenantId = 'acme') =>
    (await api.app.get(ApproverLinks).mint({ tenantId, approvalId: id, approverId })).token;

  /** Every software passkey registered here, to sign the management proof of the next one. */
  const registered: SoftAuthenticator[] = [];
  /** The approver's assertion, by `authenticator`, over a management challenge for `action`. */
  async function proofFrom(token: string, authenticator: SoftAuthenticator, action: Record<string, unknown>) {
    const challenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: action });
    expect(challenge.status).toBe(200);
    return authenticator.assert(challenge.body.options);
  }
  const passkeysOf = async (token: string) => (await call(api.url, 'GET', '/v1/passkeys', { token })).body;

  /** Registers a software passkey for the approver of `token` (with a proof from their first one, if they have one); returns it. */
  async function registerPasskey(token: string, origin = ORIGIN): Promise<SoftAuthenticator> {
    const mine = (await passkeysOf(token)).passkeys.map((p: { credential_id: string }) => p.credential_id);
    const prover = registered.find((a) => mine.includes(a.credentialId));
    const proof = prover ? await proofFrom(token, prover, { action: 'register' }) : undefined;
    const authenticator = new SoftAuthenticator(origin);
    const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token });
    expect(options.status).toBe(200);
    const saved = await call(api.url, 'POST', '/v1/passkeys', { token, body: { name: 'laptop', response: authenticator.register(options.body), proof } });
    expect(saved.status).toBe(201);
    registered.push(authenticator);
    return authenticator;
  }

  const challengeFor = (token: string, id: string, decision: string, reason: string) =>
    call(api.url, 'POST', `/v1/approvals/${id}/passkey-challenge`, { token, body: { decision, reason } });
  const vote = (token: string, id: string, body: Record<string, unknown>) => call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token, body });
  const votes = (id: string) =>
    sql<{ approver_id: string; passkey: PasskeyEvidence | null }>(env.db.url, `SELECT approver_id, passkey FROM approval_votes WHERE approval_id = $1`, [id]);
  const status = async (id: string) => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway })).body.status;

  /** A signed vote: the challenge for (decision, reason), the authenticator's assertion over it. */
  async function signed(token: string, id: string, authenticator: SoftAuthenticator, decision: string, reason: string) {
    const challenge = await challengeFor(token, id, decision, reason);
    expect(challenge.status).toBe(200);
    return authenticator.assert(challenge.body.options);
  }

  describe('registration', () => {
    it('asks for user verification, registers the passkey, lists it, and removes it', async () => {
      const id = await park();
      const token = await link(id, 'bob');
      const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token });
      expect(options.body.authenticatorSelection.userVerification).toBe('required');
      expect(options.body.rp.id).toBe('localhost');
      const authenticator = new SoftAuthenticator(ORIGIN);
      const saved = await call(api.url, 'POST', '/v1/passkeys', { token, body: { name: 'laptop', response: authenticator.register(options.body) } });
      expect(saved.status).toBe(201);
      expect(saved.body).toMatchObject({ name: 'laptop', credential_id: authenticator.credentialId, transports: ['internal'] });
      const listed = await call(api.url, 'GET', '/v1/passkeys', { token });
      expect(listed.body).toEqual({ passkeys: [expect.objectContaining({ id: saved.body.id })], always: false });
      // Another approver, or the same approver in another tenant, sees none of it.
      expect((await call(api.url, 'GET', '/v1/passkeys', { token: await link(id, 'carol') })).body.passkeys).toEqual([]);
      const globex = await parkApproval(api, await tenantToken('globex'), parkBody());
      expect((await call(api.url, 'GET', '/v1/passkeys', { token: await link(globex, 'bob', 'globex') })).body.passkeys).toEqual([]);
      expect((await call(api.url, 'DELETE', `/v1/passkeys/${saved.body.id}`, { token: await link(id, 'carol') })).status).toBe(404);

      const proof = await proofFrom(token, authenticator, { action: 'remove', passkey_id: saved.body.id });
      expect((await call(api.url, 'DELETE', `/v1/passkeys/${saved.body.id}`, { token, body: { proof } })).status).toBe(204);
      expect((await call(api.url, 'GET', '/v1/passkeys', { token })).body.passkeys).toEqual([]);
      expect((await call(api.url, 'DELETE', `/v1/passkeys/${saved.body.id}`, { token })).status).toBe(404);
    });

    it("refuses a used challenge, another approver's challenge, another origin and no user verification", async () => {
      const id = await park({ approvers: ['user:carol', 'user:dave'] });
      const token = await link(id, 'dave');
      const options = (await call(api.url, 'POST', '/v1/passkeys/registration-options', { token })).body;
      const daves = new SoftAuthenticator(ORIGIN);
      const response = daves.register(options);
      expect((await call(api.url, 'POST', '/v1/passkeys', { token: await link(id, 'carol'), body: { response } })).body.error).toBe(
        'passkey_challenge_unknown',
      );

      const fresh = async () => (await call(api.url, 'POST', '/v1/passkeys/registration-options', { token })).body;
      const elsewhere = await call(api.url, 'POST', '/v1/passkeys', {
        token,
        body: { response: new SoftAuthenticator('http://evil.example').register(await fresh()) },
      });
      expect(elsewhere.body.error).toBe('passkey_invalid');
      const unverified = await call(api.url, 'POST', '/v1/passkeys', {
        token,
        body: { response: new SoftAuthenticator(ORIGIN, { userVerified: false }).register(await fresh()) },
      });
      expect(unverified.body.error).toBe('passkey_invalid');
      expect((await call(api.url, 'POST', '/v1/passkeys', { token, body: { response } })).status).toBe(201);
      registered.push(daves);
      const again = await call(api.url, 'POST', '/v1/passkeys', { token, body: { response } });
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('passkey_challenge_unknown');
      expect((await call(api.url, 'POST', '/v1/passkeys', { token, body: { response: { id: 'x' } } })).body.field).toBe('response.rawId');
      expect((await call(api.url, 'GET', '/v1/passkeys', { token })).body.passkeys).toHaveLength(1);
    });

    it('refuses every passkey route without a valid approver link', async () => {
      expect((await call(api.url, 'GET', '/v1/passkeys', {})).status).toBe(401);
      expect((await call(api.url, 'POST', '/v1/passkeys/registration-options', { token: gateway })).status).toBe(401);
    });
  });

  describe('a passkey-signed vote', () => {
    let bob: SoftAuthenticator;
    beforeAll(async () => {
      bob = await registerPasskey(await link(await park(), 'bob'));
    });

    it('binds request, call, decision and reason; is verified, kept with the vote, and its audit event verifies offline', async () => {
      const id = await park();
      const token = await link(id, 'bob');
      const challenge = await challengeFor(token, id, 'approve', '  invoice matches PO-7 ');
      expect(challenge.status).toBe(200);
      const body = parkBody();
      expect(challenge.body.bound).toMatchObject({
        tenant: 'acme',
        auth_req_id: id,
        call_hash: callHash(body.tool_call),
        approver: 'bob',
        decision: 'approve',
        reason: 'invoice matches PO-7',
      });
      expect(challenge.body.options).toMatchObject({
        challenge: challenge.body.challenge,
        userVerification: 'required',
        rpId: 'localhost',
        allowCredentials: [expect.objectContaining({ id: bob.credentialId })],
      });

      const res = await vote(token, id, { decision: 'approve', reason: 'invoice matches PO-7', passkey: bob.assert(challenge.body.options) });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('approved');
      const [row] = await votes(id);
      expect(row.passkey).toMatchObject({ credential_id: bob.credentialId, bound: challenge.body.bound, user_verified: true, sign_count: expect.any(Number) });

      const [event] = await sql<{ data: { decision: string; reason: string; passkey: PasskeyEvidence } }>(
        env.db.url,
        `SELECT data FROM audit_events WHERE approval_id = $1 AND type = 'approval.vote'`,
        [id],
      );
      expect(event.data.passkey.public_key_jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
      expect(checkPasskeyEvidence(event.data.passkey, { callHash: callHash(body.tool_call) })).toEqual([]);
      // An edited reason in the audit would no longer verify.
      const edited = { ...event.data.passkey, bound: { ...event.data.passkey.bound, reason: 'something else' } };
      expect(checkPasskeyEvidence(edited)).not.toEqual([]);
    });

    it('is refused when it binds another decision, reason or request, and nothing changes', async () => {
      const id = await park();
      const other = await park();
      const token = await link(id, 'bob');
      const assertion = await signed(token, id, bob, 'approve', 'looks right');
      for (const [body, mismatched] of [
        [{ decision: 'deny', reason: 'looks right' }, ['decision']],
        [{ decision: 'approve', reason: 'something else' }, ['reason']],
      ] as const) {
        const res = await vote(token, id, { ...body, passkey: assertion });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: 'passkey_mismatch', mismatched });
      }
      // The same assertion on another request (with a link for that request).
      const elsewhere = await vote(await link(other, 'bob'), other, { decision: 'approve', reason: 'looks right', passkey: assertion });
      expect(elsewhere.body).toMatchObject({ error: 'passkey_mismatch', mismatched: ['auth_req_id'] });
      expect(await votes(id)).toEqual([]);
      expect(await votes(other)).toEqual([]);
      expect(await status(id)).toBe('pending');
      // The refusals used nothing up: the assertion still proves what it signed.
      expect((await vote(token, id, { decision: 'approve', reason: 'looks right', passkey: assertion })).status).toBe(200);
    });

    it('is refused when replayed, when the challenge was issued to someone else, and without user verification', async () => {
      const id = await park({ approvers: ['user:bob', 'user:carol', 'user:dave'], quorum: 3 });
      const token = await link(id, 'bob');
      const assertion = await signed(token, id, bob, 'approve', 'fine');
      expect((await vote(token, id, { decision: 'approve', reason: 'fine', passkey: assertion })).status).toBe(200);
      const replay = await vote(token, id, { decision: 'approve', reason: 'fine', passkey: assertion });
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('passkey_challenge_unknown');

      // Carol presents bob's challenge signed by her own passkey: not issued to her.
      const carolToken = await link(id, 'carol');
      const carol = await registerPasskey(carolToken);
      const bobsChallenge = await challengeFor(token, id, 'approve', 'fine');
      expect(bobsChallenge.status).toBe(200);
      const foreign = await vote(carolToken, id, { decision: 'approve', reason: 'fine', passkey: carol.assert(bobsChallenge.body.options) });
      expect(foreign.body.error).toBe('passkey_challenge_unknown');

      // Dave's passkey, registered with user verification, then used without it.
      const daveToken = await link(id, 'dave');
      const dave = await registerPasskey(daveToken);
      dave.userVerified = false;
      const daveChallenge = await challengeFor(daveToken, id, 'approve', 'fine');
      const noUv = await vote(daveToken, id, { decision: 'approve', reason: 'fine', passkey: dave.assert(daveChallenge.body.options) });
      expect(noUv.body.error).toBe('passkey_invalid');
      expect((await votes(id)).map((v) => v.approver_id)).toEqual(['bob']);
    });

    it('a challenge past its expiry is refused', async () => {
      const id = await park();
      const token = await link(id, 'bob');
      const assertion = await signed(token, id, bob, 'deny', 'no');
      await sql(env.db.url, `UPDATE passkey_challenges SET expires_at = now() - interval '1 second' WHERE approval_id = $1`, [id]);
      expect((await vote(token, id, { decision: 'deny', reason: 'no', passkey: assertion })).body.error).toBe('passkey_challenge_unknown');
      expect(await votes(id)).toEqual([]);
      // The next challenge issued to bob clears his expired ones.
      await challengeFor(token, id, 'deny', 'no');
      const expired = `SELECT count(*)::int AS n FROM passkey_challenges WHERE approver_id = 'bob' AND expires_at <= now()`;
      expect((await sql(env.db.url, expired))[0].n).toBe(0);
    });

    it('"always use my passkey" refuses the approver\'s plain votes; it needs a passkey first', async () => {
      const id = await park();
      const erinToken = await link(await park({ approvers: ['user:erin'] }), 'erin');
      const always = await call(api.url, 'PUT', '/v1/passkeys/preference', { token: erinToken, body: { always: true } });
      expect(always.status).toBe(400);
      expect(always.body.field).toBe('always');
      expect((await call(api.url, 'PUT', '/v1/passkeys/preference', { token: erinToken, body: { always: 'yes' } })).body.field).toBe('always');

      const token = await link(id, 'bob');
      expect((await call(api.url, 'PUT', '/v1/passkeys/preference', { token, body: { always: true } })).body).toEqual({ always: true });
      const plain = await vote(token, id, { decision: 'approve', reason: 'ok' });
      expect(plain.status).toBe(403);
      expect(plain.body.error).toBe('passkey_required');
      expect(plain.body.error_description).toContain('bob chose to always decide with a passkey');
      expect(await votes(id)).toEqual([]);
      // Carol, on the same request, is not bound by bob's choice.
      expect((await vote(await link(id, 'carol'), id, { decision: 'deny', reason: 'not now' })).status).toBe(200);
      const off = await call(api.url, 'PUT', '/v1/passkeys/preference', {
        token,
        body: { always: false, proof: await proofFrom(token, bob, { action: 'preference', always: false }) },
      });
      expect(off.body).toEqual({ always: false });
    });
  });

  describe('managing passkeys once the approver has one (a stolen link alone cannot)', () => {
    const events = (approver: string) =>
      sql<{ type: string; data: Record<string, unknown> }>(
        env.db.url,
        `SELECT type, data FROM audit_events WHERE type LIKE 'passkey.%' AND data->>'approver' = $1 AND tenant_id = 'acme' ORDER BY id`,
        [approver],
      );
    const register = async (token: string, proof?: unknown) => {
      const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token });
      const authenticator = new SoftAuthenticator(ORIGIN);
      const res = await call(api.url, 'POST', '/v1/passkeys', { token, body: { response: authenticator.register(options.body), proof } });
      return { res, authenticator };
    };

    it('the first passkey needs the link alone; another, a removal and "always" off need a proof from it, and without one nothing changes', async () => {
      const token = await link(await park({ approvers: ['user:u71'] }), 'u71');
      const first = await register(token);
      expect(first.res.status).toBe(201);
      expect((await call(api.url, 'PUT', '/v1/passkeys/preference', { token, body: { always: true } })).status).toBe(200);

      const second = await register(token);
      expect(second.res.status).toBe(403);
      expect(second.res.body).toMatchObject({ error: 'passkey_required', field: 'proof' });
      const removal = await call(api.url, 'DELETE', `/v1/passkeys/${first.res.body.id}`, { token });
      expect(removal.status).toBe(403);
      expect(removal.body).toMatchObject({ error: 'passkey_required', field: 'proof' });
      const off = await call(api.url, 'PUT', '/v1/passkeys/preference', { token, body: { always: false } });
      expect(off.status).toBe(403);
      expect(off.body).toMatchObject({ error: 'passkey_required', field: 'proof' });
      expect(await passkeysOf(token)).toEqual({ passkeys: [expect.objectContaining({ id: first.res.body.id })], always: true });

      const proved = await register(token, await proofFrom(token, first.authenticator, { action: 'register' }));
      expect(proved.res.status).toBe(201);
      const unticked = await call(api.url, 'PUT', '/v1/passkeys/preference', {
        token,
        body: { always: false, proof: await proofFrom(token, proved.authenticator, { action: 'preference', always: false }) },
      });
      expect(unticked.body).toEqual({ always: false });
      const proof = await proofFrom(token, proved.authenticator, { action: 'remove', passkey_id: first.res.body.id });
      expect((await call(api.url, 'DELETE', `/v1/passkeys/${first.res.body.id}`, { token, body: { proof } })).status).toBe(204);
      expect(await passkeysOf(token)).toEqual({ passkeys: [expect.objectContaining({ id: proved.res.body.id })], always: false });

      const credential = (a: SoftAuthenticator) => a.credentialId;
      expect((await events('u71')).map((e) => [e.type, e.data.credential_id ?? e.data.always, e.data.proof_credential_id])).toEqual([
        ['passkey.registered', credential(first.authenticator), null],
        ['passkey.preference', true, null],
        ['passkey.registered', credential(proved.authenticator), credential(first.authenticator)],
        ['passkey.preference', false, credential(proved.authenticator)],
        ['passkey.removed', credential(first.authenticator), credential(proved.authenticator)],
      ]);
    });

    it("refuses a proof for another action or passkey, a replayed one, and one from another approver's or tenant's passkey", async () => {
      const id = await park({ approvers: ['user:gina', 'user:u72'] });
      const token = await link(id, 'gina');
      const g1 = await register(token);
      const g2 = await register(token, await proofFrom(token, g1.authenticator, { action: 'register' }));
      expect(g2.res.status).toBe(201);
      const before = await passkeysOf(token);
      const remove = (passkeyId: string, proof: unknown, as = token) => call(api.url, 'DELETE', `/v1/passkeys/${passkeyId}`, { token: as, body: { proof } });
      const unset = (proof: unknown, as = token) => call(api.url, 'PUT', '/v1/passkeys/preference', { token: as, body: { always: false, proof } });

      // Bound to removing g1, presented to remove g2; bound to registering, presented to switch "always" off.
      const otherTarget = await remove(g2.res.body.id, await proofFrom(token, g1.authenticator, { action: 'remove', passkey_id: g1.res.body.id }));
      expect(otherTarget.status).toBe(400);
      expect(otherTarget.body).toMatchObject({ error: 'passkey_mismatch', field: 'proof' });
      const otherAction = await unset(await proofFrom(token, g1.authenticator, { action: 'register' }));
      expect(otherAction.body).toMatchObject({ error: 'passkey_mismatch', field: 'proof' });

      // Replayed: the same assertion a second time.
      const once = await proofFrom(token, g1.authenticator, { action: 'preference', always: false });
      expect((await unset(once)).status).toBe(200);
      const replay = await unset(once);
      expect(replay.status).toBe(400);
      expect(replay.body).toMatchObject({ error: 'passkey_challenge_unknown', field: 'proof' });

      // Hugo's passkey over gina's challenge: not one of gina's. Hugo's own challenge, presented by gina: not issued to her.
      const hugoToken = await link(id, 'u72');
      const hugo = await register(hugoToken);
      const gChallenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'remove', passkey_id: g1.res.body.id } });
      const foreignKey = await remove(g1.res.body.id, hugo.authenticator.assert(gChallenge.body.options));
      expect(foreignKey.body).toMatchObject({ error: 'passkey_invalid', field: 'proof.id' });
      const hugosChallenge = await proofFrom(hugoToken, hugo.authenticator, { action: 'register' });
      expect((await register(token, hugosChallenge)).res.body).toMatchObject({ error: 'passkey_challenge_unknown', field: 'proof' });

      // Gina in globex (same approver id): her passkey and her challenges do nothing to acme's gina.
      const globexBody = parkBody();
      globexBody.obligation = { ...globexBody.obligation, approvers: ['user:gina'] };
      const globexToken = await link(await parkApproval(api, await tenantToken('globex'), globexBody), 'gina', 'globex');
      const globexGina = await register(globexToken);
      expect(globexGina.res.status).toBe(201);
      const acmeChallenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'register' } });
      expect((await register(token, globexGina.authenticator.assert(acmeChallenge.body.options))).res.body).toMatchObject({
        error: 'passkey_invalid',
        field: 'proof.id',
      });
      const globexProof = await proofFrom(globexToken, globexGina.authenticator, { action: 'remove', passkey_id: globexGina.res.body.id });
      expect((await remove(g1.res.body.id, globexProof)).body).toMatchObject({ error: 'passkey_challenge_unknown', field: 'proof' });

      const ids = (list: { passkeys: { id: string }[] }) => list.passkeys.map((p) => p.id);
      expect(ids(await passkeysOf(token))).toEqual(ids(before));
      expect((await passkeysOf(globexToken)).passkeys).toHaveLength(1);
    });

    it("a management challenge needs a passkey to sign it, and names one of the approver's own to remove", async () => {
      const token = await link(await park({ approvers: ['user:u73'] }), 'u73');
      const none = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'register' } });
      expect(none.status).toBe(400);
      expect(none.body.field).toBe('action');
      expect((await register(token)).res.status).toBe(201);
      const unknown = await call(api.url, 'POST', '/v1/passkeys/management-challenge', {
        token,
        body: { action: 'remove', passkey_id: '00000000-0000-4000-8000-000000000000' },
      });
      expect(unknown.status).toBe(404);
      const on = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'preference', always: true } });
      expect(on.status).toBe(400);
      expect(on.body.field).toBe('always');
      const challenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'register' } });
      expect(challenge.body.bound).toMatchObject({ tenant: 'acme', approver: 'u73', action: 'register', target: null });
      expect(challenge.body.options.userVerification).toBe('required');
      // The challenge is base64url(SHA-256(canonical JSON of the binding)), and the options sign exactly it.
      expect(challenge.body.challenge).toBe(managementChallenge(challenge.body.bound));
      expect(challenge.body.options.challenge).toBe(challenge.body.challenge);
      const noTarget = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token, body: { action: 'remove' } });
      expect(noTarget.status).toBe(400);
      expect(noTarget.body.field).toBe('passkey_id');
    });
  });

  describe('a policy that requires a passkey (@proof("passkey"))', () => {
    const PERMIT = `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`;

    it('is checked at publish', async () => {
      const admin = await adminToken();
      const bad = await call(api.url, 'POST', '/v1/policies', {
        token: admin,
        body: { policies: { p: `@obligation("human_approval") @approvers("user:bob") @proof("sms") ${PERMIT}` } },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors).toContain('p: @proof must be "passkey"');
      const misplaced = await call(api.url, 'POST', '/v1/policies', { token: admin, body: { policies: { p: `@proof("passkey") ${PERMIT}` } } });
      expect(misplaced.status).toBe(400);
      expect(misplaced.body.errors).toContain('p: @proof belongs on an @obligation("human_approval") permit');
    });

    it('parks the call with the proof; a plain vote is refused, a signed one counts', async () => {
      const admin = await adminToken();
      const published = await call(api.url, 'POST', '/v1/policies', {
        token: admin,
        body: { policies: { p: `@obligation("human_approval") @approvers("user:bob") @proof("passkey") ${PERMIT}` }, activate: true },
      });
      expect(published.status).toBe(201);
      const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
      expect(
        (await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*'] } })).status,
      ).toBe(201);
      const parked = await call(api.url, 'POST', '/v1/authorize', {
        token: gateway,
        body: {
          agent: { token: await agentToken({ human: 'alice', actors: ['pay-agent'] }) },
          action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 120, currency: 'EUR' } },
          intent: { category: 'pay' },
          resource: { id: 'acct-7' },
        },
      });
      expect(parked.status).toBe(202);
      const id = parked.body.auth_req_id;
      expect((await sql(env.db.url, `SELECT proof FROM approval_requests WHERE id = $1`, [id]))[0].proof).toBe('passkey');

      const token = await link(id, 'bob');
      const plain = await vote(token, id, { decision: 'approve', reason: 'ok' });
      expect(plain.status).toBe(403);
      expect(plain.body).toMatchObject({ error: 'passkey_required', field: 'passkey' });
      expect(plain.body.error_description).toContain('the policy requires this decision to be signed with a passkey');
      expect(await status(id)).toBe('pending');

      const bob = await registerPasskey(token);
      const res = await vote(token, id, { decision: 'approve', reason: 'ok', passkey: await signed(token, id, bob, 'approve', 'ok') });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('approved');
    });
  });

  it('the migration goes down and up again (last: it empties the passkey tables)', async () => {
    const tables = `SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'passkey_%' ORDER BY 1`;
    const columns = `SELECT table_name, column_name FROM information_schema.columns WHERE (table_name, column_name) IN (('approval_requests', 'proof'), ('approval_votes', 'passkey')) ORDER BY 1`;
    expect((await sql(env.db.url, tables)).map((r) => r.table_name)).toEqual(['passkey_challenges', 'passkey_credentials', 'passkey_preferences']);
    const db = new DataSource({ type: 'postgres', url: env.db.url });
    await db.initialize();
    const runner = db.createQueryRunner();
    try {
      await new BatchPasskeyChallenges1764230000000().down(runner);
      await new PasskeyManagement1764190000000().down(runner);
      await new Passkeys1764180000000().down(runner);
      expect(await sql(env.db.url, tables)).toEqual([]);
      expect(await sql(env.db.url, columns)).toEqual([]);
      await new Passkeys1764180000000().up(runner);
      await new PasskeyManagement1764190000000().up(runner);
      await new BatchPasskeyChallenges1764230000000().up(runner);
    } finally {
      await runner.release();
      await db.destroy();
    }
    expect(await sql(env.db.url, columns)).toHaveLength(2);
    const token = await link(await park(), 'bob');
    await registerPasskey(token);
  });
});
