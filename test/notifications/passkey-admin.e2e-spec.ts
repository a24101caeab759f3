/**
 * An admin's hold on approvers' passkeys (the directory's admin API): list them, remove one that
 * is lost or compromised, or reset them all so that the approver's next registration is a first
 * one again (the link alone). Tenant-scoped, admin-only, audited.
 */
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { sql } from '../support/callback-server';
import { SoftAuthenticator } from '../support/soft-authenticator';

const ORIGIN = 'http://localhost:3000'; // PUBLIC_URL's default: RP id localhost
/** A person only acme's directory has. */
const ZOE = 'pk-admin-zoe';

describe("passkeys: an admin lists, removes and resets an approver's passkeys", () => {
  let env: TestEnvironment;
  let api: TestApp;
  let admin: string;
  let globexAdmin: string;
  let link: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    admin = await adminToken();
    globexAdmin = await adminToken('globex');
    expect((await call(api.url, 'PUT', `/v1/approvers/${ZOE}`, { token: admin, body: { display_name: 'Zoe' } })).status).toBe(201);
    const id = await parkApproval(
      api,
      await tenantToken(),
      parkBody({ obligation: { approvers: [`user:${ZOE}`, 'user:bob'], quorum: 1, binding_message: 'Pay' } }),
    );
    link = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: ZOE })).token;
  });
  afterAll(() => env?.teardown());

  const asAdmin = (method: string, path: string, token = admin) => call(api.url, method, path, { token });
  const passkeysOf = async () => (await call(api.url, 'GET', '/v1/passkeys', { token: link })).body;

  /** Registers a passkey with Zoe's link, with a proof from `prover` when she has one already; returns the response. */
  async function register(name: string, prover?: SoftAuthenticator) {
    const authenticator = new SoftAuthenticator(ORIGIN);
    let proof;
    if (prover) {
      const challenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token: link, body: { action: 'register' } });
      expect(challenge.status).toBe(200);
      proof = prover.assert(challenge.body.options);
    }
    const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token: link });
    expect(options.status).toBe(200);
    const res = await call(api.url, 'POST', '/v1/passkeys', { token: link, body: { name, response: authenticator.register(options.body), proof } });
    return { res, authenticator };
  }

  const events = (type: string) =>
    sql<{ actor: string; data: Record<string, unknown> }>(
      env.db.url,
      `SELECT actor, data FROM audit_events WHERE tenant_id = 'acme' AND type = $1 AND data->>'approver' = $2 ORDER BY id`,
      [type, ZOE],
    );

  it('lists without key material, removes one, resets all, and the approver registers a first passkey again with the link alone', async () => {
    const first = await register('phone');
    expect(first.res.status).toBe(201);
    const second = await register('laptop', first.authenticator);
    expect(second.res.status).toBe(201);
    expect((await call(api.url, 'PUT', '/v1/passkeys/preference', { token: link, body: { always: true } })).status).toBe(200);

    const listed = await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      passkeys: [
        {
          id: first.res.body.id,
          name: 'phone',
          credential_id: first.authenticator.credentialId,
          transports: ['internal'],
          created_at: expect.any(String),
          last_used_at: expect.any(String),
        },
        {
          id: second.res.body.id,
          name: 'laptop',
          credential_id: second.authenticator.credentialId,
          transports: ['internal'],
          created_at: expect.any(String),
          last_used_at: null,
        },
      ],
      always: true,
    });
    expect(JSON.stringify(listed.body)).not.toMatch(/public_key|counter/);

    // The phone is lost: the admin removes it, without any proof from Zoe.
    expect((await asAdmin('DELETE', `/v1/approvers/${ZOE}/passkeys/${first.res.body.id}`)).status).toBe(204);
    expect((await passkeysOf()).passkeys.map((p: { id: string }) => p.id)).toEqual([second.res.body.id]);
    expect((await asAdmin('DELETE', `/v1/approvers/${ZOE}/passkeys/${first.res.body.id}`)).status).toBe(404);
    expect(await events('passkey.removed_by_admin')).toEqual([
      { actor: 'admin:idp', data: { approver: ZOE, passkey_id: first.res.body.id, credential_id: first.authenticator.credentialId, name: 'phone' } },
    ]);

    // Still guarded: with a passkey left, the link alone cannot register another.
    const unproven = await register('stranger');
    expect(unproven.res.status).toBe(403);
    expect(unproven.res.body.error).toBe('passkey_required');

    // Reset: every passkey and "always" go; the next registration is a first one again.
    expect((await asAdmin('DELETE', `/v1/approvers/${ZOE}/passkeys`)).status).toBe(204);
    expect((await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`)).body).toEqual({ passkeys: [], always: false });
    expect(await events('passkey.reset_by_admin')).toEqual([
      {
        actor: 'admin:idp',
        data: { approver: ZOE, passkey_ids: [second.res.body.id], credential_ids: [second.authenticator.credentialId], always_was: true },
      },
    ]);
    const again = await register('new phone');
    expect(again.res.status).toBe(201);
    expect((await passkeysOf()).passkeys.map((p: { name: string }) => p.name)).toEqual(['new phone']);
    // The old laptop no longer signs anything for her.
    const challenge = await call(api.url, 'POST', '/v1/passkeys/management-challenge', { token: link, body: { action: 'register' } });
    const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token: link });
    const stale = await call(api.url, 'POST', '/v1/passkeys', {
      token: link,
      body: { response: new SoftAuthenticator(ORIGIN).register(options.body), proof: second.authenticator.assert(challenge.body.options) },
    });
    expect(stale.status).toBe(400);
    expect(stale.body.error).toBe('passkey_invalid');
  });

  it("is tenant-scoped: another tenant's admin gets 404 for an approver only this tenant has, and sees none of its passkeys for one both have", async () => {
    const bobLink = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: await parkApproval(api, await tenantToken()), approverId: 'bob' }))
      .token;
    const options = await call(api.url, 'POST', '/v1/passkeys/registration-options', { token: bobLink });
    const bobs = await call(api.url, 'POST', '/v1/passkeys', { token: bobLink, body: { response: new SoftAuthenticator(ORIGIN).register(options.body) } });
    expect(bobs.status).toBe(201);
    const zoes = (await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`)).body.passkeys;
    expect(zoes).toHaveLength(1);

    for (const [method, path] of [
      ['GET', `/v1/approvers/${ZOE}/passkeys`],
      ['DELETE', `/v1/approvers/${ZOE}/passkeys`],
      ['DELETE', `/v1/approvers/${ZOE}/passkeys/${zoes[0].id}`],
    ]) {
      const res = await asAdmin(method, path, globexAdmin);
      expect({ method, path, status: res.status, error: res.body.error }).toEqual({ method, path, status: 404, error: 'not_found' });
    }
    // globex has a bob of its own: his list is empty, and acme's bob's passkey is not globex's to remove.
    expect((await asAdmin('GET', '/v1/approvers/bob/passkeys', globexAdmin)).body).toEqual({ passkeys: [], always: false });
    expect((await asAdmin('DELETE', `/v1/approvers/bob/passkeys/${bobs.body.id}`, globexAdmin)).status).toBe(404);
    expect((await asAdmin('DELETE', '/v1/approvers/bob/passkeys', globexAdmin)).status).toBe(204);

    expect((await asAdmin('GET', '/v1/approvers/bob/passkeys')).body.passkeys.map((p: { id: string }) => p.id)).toEqual([bobs.body.id]);
    expect((await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`)).body.passkeys).toEqual(zoes);
  });

  it('refuses a token without the admin scope (403), no token or an approver link (401)', async () => {
    const paths = [
      ['GET', `/v1/approvers/${ZOE}/passkeys`],
      ['DELETE', `/v1/approvers/${ZOE}/passkeys`],
      ['DELETE', `/v1/approvers/${ZOE}/passkeys/00000000-0000-4000-8000-000000000000`],
    ];
    const before = (await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`)).body;
    for (const [method, path] of paths) {
      expect({ path, status: (await call(api.url, method, path, { token: await tenantToken() })).status }).toEqual({ path, status: 403 });
      expect({ path, status: (await call(api.url, method, path, {})).status }).toEqual({ path, status: 401 });
      expect({ path, status: (await call(api.url, method, path, { token: link })).status }).toEqual({ path, status: 401 });
    }
    expect((await asAdmin('GET', `/v1/approvers/${ZOE}/passkeys`)).body).toEqual(before);
  });

  it.each([
    ['GET', '/v1/approvers/has%20space/passkeys', 'id'],
    ['DELETE', '/v1/approvers/has%20space/passkeys', 'id'],
    ['DELETE', `/v1/approvers/${ZOE}/passkeys/not-a-uuid`, 'passkeyId'],
  ])('%s %s is a 400 naming %s', async (method, path, field) => {
    const res = await asAdmin(method, path);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field });
  });

  it('an unknown approver is a 404, and an unknown passkey of a known one too', async () => {
    expect((await asAdmin('GET', '/v1/approvers/nobody-here/passkeys')).status).toBe(404);
    expect((await asAdmin('DELETE', '/v1/approvers/nobody-here/passkeys')).status).toBe(404);
    expect((await asAdmin('DELETE', `/v1/approvers/${ZOE}/passkeys/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    expect(await sql(env.db.url, `SELECT type FROM audit_events WHERE data->>'approver' = 'nobody-here'`)).toEqual([]);
  });
});
