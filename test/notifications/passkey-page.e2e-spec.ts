/**
 * Passkeys on the approval page in real Chromium (issue 15), with the DevTools protocol's virtual
 * authenticator (CTAP2, internal, resident keys, user verification): an approver registers a
 * passkey from the page and approves with it; the assertion the page sent, replayed over HTTP, is
 * refused; an assertion captured before it was sent, presented with another reason, is refused;
 * and a policy that requires a passkey refuses a plain vote; an approver with a passkey adds a
 * second only with the first's assertion. The page's origin is localhost (a
 * secure context for WebAuthn), which is also the relying party.
 */
import { BrowserContext, Browser, Page } from 'playwright-core';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { checkPasskeyEvidence, PasskeyEvidence } from '../../src/approvals/passkeys/passkey-proof';
import { adminToken, call, tenantToken } from '../support/api';
import { freePort, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { artifactPath, launchBrowser, PHONE_VIEWPORT } from '../support/browser';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const PERMIT = `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`;
const POLICY = `@obligation("human_approval") @approvers("user:bob,user:carol") @quorum("2") @proof("passkey") ${PERMIT}`;

describe('approval page: passkeys in Chromium with a virtual authenticator', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let browser: Browser;
  let origin: string;
  let id: string;
  /** Carol's passkey as her virtual authenticator holds it, to put on the authenticator of her next page. */
  let carolsCredentials: unknown[] = [];

  beforeAll(async () => {
    env = await testEnvironment();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    api = await env.start({ PORT: String(port), PUBLIC_URL: origin });
    browser = await launchBrowser();
    expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: { p: POLICY }, activate: true } })).status).toBe(201);
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    expect(
      (await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*'] } })).status,
    ).toBe(201);
    id = await parkCall();
  }, 60_000);
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await env?.teardown();
  });

  async function parkCall(): Promise<string> {
    const parked = await call(api.url, 'POST', '/v1/authorize', {
      token: await tenantToken('acme'),
      body: {
        agent: { token: await agentToken({ human: 'alice', actors: ['pay-agent'] }) },
        action: { server: 'payments', tool: 'transfer_funds', arguments: { amount: 120, currency: 'EUR', to: 'DE89370400440532013000' } },
        intent: { category: 'pay' },
        resource: { id: 'acct-7' },
      },
    });
    expect(parked.status).toBe(202);
    return parked.body.auth_req_id;
  }

  const link = async (approverId: string, approvalId = id) => (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId, approverId })).token;
  const vote = (token: string, body: Record<string, unknown>) => call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token, body });
  const status = async () => (await call(api.url, 'GET', `/v1/approvals/${id}`, { token: await tenantToken('acme') })).body.status;

  /** A phone-sized page on the approver's link, with a user-verifying platform authenticator attached. */
  async function approverPage(
    token: string,
    approvalId = id,
  ): Promise<{ context: BrowserContext; page: Page; authenticatorId: string; cdp: Awaited<ReturnType<BrowserContext['newCDPSession']>> }> {
    const context = await browser.newContext({ viewport: PHONE_VIEWPORT });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await page.goto(`${origin}/approve/${approvalId}?link=${encodeURIComponent(token)}`);
    return { context, page, authenticatorId, cdp };
  }

  /** Waits until the element's text matches (the page's CSP forbids the string evaluation waitForFunction uses). */
  async function textOf(page: Page, selector: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const text = (await page.locator(selector).textContent()) ?? '';
      if (pattern.test(text) || Date.now() > until) return text;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function registerOnPage(page: Page) {
    await page.fill('#passkey-name', 'phone');
    await page.click('#register-passkey');
    expect(await textOf(page, '#passkey-status', /^(?!(|Creating a passkey\.\.\.)$)/)).toBe('Passkey added.');
    expect(await page.locator('#passkey-list li').count()).toBe(1);
    expect(await page.locator('#passkey-list li .passkey-name').innerText()).toBe('phone');
  }

  it('registers a passkey from the page and approves with user verification; the same assertion replayed over HTTP is refused', async () => {
    const token = await link('bob');
    const { context, page, authenticatorId, cdp } = await approverPage(token);
    try {
      expect(await page.locator('#passkey-required').innerText()).toContain('must be signed with your passkey');
      expect(await page.locator('#passkey-missing').count()).toBe(1);
      await registerOnPage(page);
      expect(await page.locator('#passkey-missing').count()).toBe(0);
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      const listed = await call(api.url, 'GET', '/v1/passkeys', { token });
      expect(listed.body.passkeys).toEqual([expect.objectContaining({ name: 'phone', transports: ['internal'] })]);
      expect(Buffer.from(credentials[0].credentialId, 'base64').toString('base64url')).toBe(listed.body.passkeys[0].credential_id);

      // "Always use my passkey" is saved from the page.
      await page.check('#passkey-always');
      expect(await textOf(page, '#passkey-status', /always sign/)).toContain('always sign');
      expect((await call(api.url, 'GET', '/v1/passkeys', { token })).body.always).toBe(true);
      // Switching it off asks the passkey first (the virtual authenticator answers), then on again needs nothing.
      await page.uncheck('#passkey-always');
      expect(await textOf(page, '#passkey-status', /your choice/)).toContain('your choice each time');
      expect((await call(api.url, 'GET', '/v1/passkeys', { token })).body.always).toBe(false);
      const off = await sql<{ data: Record<string, unknown> }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'passkey.preference' ORDER BY id`);
      expect(off.map((e) => [e.data.always, e.data.proof_credential_id])).toEqual([
        [true, null],
        [false, listed.body.passkeys[0].credential_id],
      ]);
      await page.check('#passkey-always');
      expect(await textOf(page, '#passkey-status', /always sign/)).toContain('always sign');

      let posted = '';
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().startsWith(`${origin}/approve/`)) posted = r.postData() ?? '';
      });
      await page.fill('#reason', 'supplier run, checked the IBAN');
      await page.locator('#decision-form').screenshot({ path: artifactPath('passkey-decision-form-390.png') });
      await Promise.all([page.waitForURL(/\/approve\//, { waitUntil: 'load' }), page.click('#approve')]);
      expect(await page.locator('#result').innerText()).toBe('You approved');

      const form = new URLSearchParams(posted);
      const assertion = JSON.parse(form.get('passkey')!);
      expect(assertion.id).toBe(listed.body.passkeys[0].credential_id);
      // The authenticator verified the user (UV flag in authenticatorData).
      expect(Buffer.from(assertion.response.authenticatorData, 'base64url')[32] & 0x04).toBe(0x04);
      const [row] = await sql<{ passkey: PasskeyEvidence }>(env.db.url, `SELECT passkey FROM approval_votes WHERE approval_id = $1 AND approver_id = 'bob'`, [
        id,
      ]);
      expect(row.passkey).toMatchObject({
        user_verified: true,
        origins: [origin],
        rp_id: 'localhost',
        bound: { auth_req_id: id, decision: 'approve', reason: 'supplier run, checked the IBAN' },
      });
      const [event] = await sql<{ data: { passkey: PasskeyEvidence } }>(
        env.db.url,
        `SELECT data FROM audit_events WHERE approval_id = $1 AND type = 'approval.vote'`,
        [id],
      );
      expect(checkPasskeyEvidence(event.data.passkey)).toEqual([]);

      const replay = await vote(token, { decision: 'approve', reason: 'supplier run, checked the IBAN', passkey: assertion });
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('passkey_challenge_unknown');
      expect(await status()).toBe('pending');
    } finally {
      await context.close();
    }
  });

  it('refuses a plain vote the policy requires a passkey for, and an assertion presented with another reason; the assertion as signed counts', async () => {
    const token = await link('carol');
    const plain = await vote(token, { decision: 'approve', reason: 'ok' });
    expect(plain.status).toBe(403);
    expect(plain.body.error).toBe('passkey_required');

    const { context, page, authenticatorId, cdp } = await approverPage(token);
    try {
      // Without a passkey the page cannot sign, and says why; nothing is sent.
      await page.fill('#reason', 'second look');
      await page.click('#approve');
      expect(await textOf(page, '#passkey-sign-status', /no passkey registered/)).toContain('carol has no passkey registered');
      expect(await status()).toBe('pending');

      await registerOnPage(page);
      // Capture the signed form instead of sending it.
      let posted = '';
      await page.route(`${origin}/approve/${id}`, async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        posted = route.request().postData() ?? '';
        await route.abort();
      });
      await page.click('#approve');
      for (let i = 0; i < 50 && !posted; i++) await new Promise((r) => setTimeout(r, 100));
      const assertion = JSON.parse(new URLSearchParams(posted).get('passkey')!);

      const otherReason = await vote(token, { decision: 'approve', reason: 'something else', passkey: assertion });
      expect(otherReason.status).toBe(400);
      expect(otherReason.body).toMatchObject({ error: 'passkey_mismatch', mismatched: ['reason'] });
      const otherDecision = await vote(token, { decision: 'deny', reason: 'second look', passkey: assertion });
      expect(otherDecision.body).toMatchObject({ error: 'passkey_mismatch', mismatched: ['decision'] });
      expect(await status()).toBe('pending');

      const signed = await vote(token, { decision: 'approve', reason: 'second look', passkey: assertion });
      expect(signed.status).toBe(200);
      expect(signed.body.status).toBe('approved');
      carolsCredentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    } finally {
      await context.close();
    }
  }, 90_000);

  it("lists the approver's passkeys on the page of their next request, where they can remove them", async () => {
    const next = await parkCall();
    const token = await link('carol', next);
    const { context, page, authenticatorId, cdp } = await approverPage(token, next);
    try {
      // The same phone: removing a passkey needs an assertion from one of carol's, which the page asks it for.
      expect(carolsCredentials).toHaveLength(1);
      for (const credential of carolsCredentials) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: credential as never });
      expect(await page.locator('#passkey-list li .passkey-name').allInnerTexts()).toEqual(['phone']);
      expect(await page.locator('#sign-with-passkey').isChecked()).toBe(true);
      await page.click('.passkey-remove');
      expect(await textOf(page, '#passkey-status', /removed/)).toBe('Passkey removed.');
      expect(await page.locator('#passkey-list li').count()).toBe(0);
      expect((await call(api.url, 'GET', '/v1/passkeys', { token })).body.passkeys).toEqual([]);
      const removed = await sql<{ data: Record<string, unknown> }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'passkey.removed'`);
      expect(removed.map((e) => e.data.proof_credential_id)).toEqual([removed[0]?.data.credential_id]);
    } finally {
      await context.close();
    }
  });
  it('an approver who has a passkey adds a second from the page: the first signs the management challenge, and both are listed', async () => {
    const next = await parkCall();
    const token = await link('carol', next);
    const { context, page, authenticatorId: phone, cdp } = await approverPage(token, next);
    try {
      // Carol's passkeys were removed above: the first one needs no proof (there is nothing to sign with yet).
      await registerOnPage(page);
      const [first] = (await call(api.url, 'GET', '/v1/passkeys', { token })).body.passkeys;
      // The second is made on another authenticator (a security key): the phone already holds one of carol's
      // credentials, which the registration options exclude. The phone signs the management challenge first;
      // once it has, the page asks for the registration options: the phone is put away and the key plugged in.
      let key = '';
      let signedWithPhone = false;
      await page.route(`${origin}/v1/passkeys/management-challenge`, async (route) => {
        await route.continue();
        signedWithPhone = true;
      });
      await page.route(`${origin}/v1/passkeys/registration-options`, async (route) => {
        await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: phone });
        key = (
          await cdp.send('WebAuthn.addVirtualAuthenticator', {
            options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
          })
        ).authenticatorId;
        await route.continue();
      });
      await page.fill('#passkey-name', 'security key');
      await page.click('#register-passkey');
      expect(await textOf(page, '#passkey-status', /added|Could not/)).toBe('Passkey added.');
      expect(signedWithPhone).toBe(true);
      expect(await page.locator('#passkey-list li .passkey-name').allInnerTexts()).toEqual(['phone', 'security key']);

      const listed = (await call(api.url, 'GET', '/v1/passkeys', { token })).body.passkeys;
      expect(listed.map((p: { name: string }) => p.name)).toEqual(['phone', 'security key']);
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: key });
      expect(credentials.map((c) => Buffer.from(c.credentialId, 'base64').toString('base64url'))).toEqual([listed[1].credential_id]);
      // The audit says the second was added on the first's word.
      const registered = await sql<{ data: Record<string, unknown> }>(
        env.db.url,
        `SELECT data FROM audit_events WHERE type = 'passkey.registered' AND actor = 'approver:carol' ORDER BY id DESC LIMIT 2`,
      );
      expect(registered.map((e) => [e.data.credential_id, e.data.proof_credential_id])).toEqual([
        [listed[1].credential_id, first.credential_id],
        [first.credential_id, null],
      ]);
      // Opened again, the page lists both.
      await page.reload();
      expect(await page.locator('#passkey-list li .passkey-name').allInnerTexts()).toEqual(['phone', 'security key']);
    } finally {
      await context.close();
    }
  }, 90_000);
});
