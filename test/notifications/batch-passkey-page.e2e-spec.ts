/**
 * The batch page signs a whole batch with one passkey assertion, in real Chromium with the
 * DevTools protocol's virtual authenticator (issue 15): the approver registers a passkey on one
 * request's approval page, opens the batch of calls that the policy says need a passkey, decides
 * them each with its own decision and reason, confirms once, and every vote is recorded with the
 * one assertion (which verifies offline for each); the same form posted again is refused.
 */
import { randomUUID } from 'node:crypto';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { checkPasskeyEvidence, signedDecision, VoteEvidence } from '../../src/approvals/passkeys/passkey-proof';
import { call, parkBody, tenantToken } from '../support/api';
import { freePort, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { launchBrowser, PHONE_VIEWPORT } from '../support/browser';
import { parkApproval } from '../support/approvals';
import { requestRow, sql } from '../support/callback-server';

describe('batch page: one passkey confirmation signs every decision (Chromium, virtual authenticator)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let browser: Browser;
  let origin: string;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    env = await testEnvironment();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    api = await env.start({ PORT: String(port), PUBLIC_URL: origin });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await env?.teardown();
  });

  /** A call of the payment agent for this task that the policy says bob must sign with a passkey. */
  async function park(task: string, amount: number): Promise<string> {
    const base = parkBody();
    const id = await parkApproval(
      api,
      await tenantToken('acme'),
      parkBody({
        tool_call: { server: 'payments-mcp', tool: 'transfer_funds', arguments: { amount, currency: 'EUR', to: 'DE89370400440532013000', memo: randomUUID() } },
        intent: { ...base.intent, id: task },
        obligation: { approvers: ['user:bob'], quorum: 1, binding_message: `Pay ${amount} EUR` },
      }),
    );
    await sql(env.db.url, `UPDATE approval_requests SET proof = 'passkey' WHERE id = $1`, [id]);
    return id;
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

  it('registers a passkey, then approves one call and denies another with one confirmation; each vote keeps the assertion', async () => {
    const task = `task-${randomUUID()}`;
    const [a, b] = [await park(task, 101), await park(task, 102)];
    const token = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: a, approverId: 'bob' })).token;

    context = await browser.newContext({ viewport: PHONE_VIEWPORT });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    // Bob's passkey, added on the approval page of one of the calls.
    await page.goto(`${origin}/approve/${a}?link=${encodeURIComponent(token)}`);
    await page.click('#register-passkey');
    expect(await textOf(page, '#passkey-status', /^(?!(|Creating a passkey\.\.\.)$)/)).toBe('Passkey added.');

    const batch = await call(api.url, 'POST', `/v1/approvals/${a}/batch-link`, { token });
    expect(batch.status).toBe(200);
    await page.goto(batch.body.url);
    expect(await page.locator('#passkey-required').innerText()).toContain('one confirmation signs every call');
    expect(await page.locator('#sign-with-passkey').isChecked()).toBe(true);

    let posted = '';
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url() === `${origin}/approve/batch`) posted = r.postData() ?? '';
    });
    await page.locator(`input[name="decision.${a}"][value="approve"]`).check();
    await page.locator(`input[name="decision.${b}"][value="deny"]`).check();
    await page.click(`#item-${b} details.own-reason > summary`);
    await page.fill(`#reason-${b}`, '  no PO for this one ');
    await page.fill('#reason', 'matches the open invoices');
    await Promise.all([page.waitForURL(/\/approve\/batch$/), page.click('#submit-each')]);
    expect(await page.locator('#result').innerText()).toBe('Recorded 2 of 2 decisions');
    expect((await requestRow(env.db.url, a)).status).toBe('approved');
    expect((await requestRow(env.db.url, b)).status).toBe('denied');

    const rows = await sql<{ approval_id: string; reason: string; passkey: VoteEvidence }>(
      env.db.url,
      `SELECT approval_id, reason, passkey FROM approval_votes WHERE approval_id = ANY($1)`,
      [[a, b]],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.passkey).toMatchObject({ format: 'webauthn-batch-assertion/v1', user_verified: true, rp_id: 'localhost', origins: [origin] });
      expect(checkPasskeyEvidence(row.passkey)).toEqual([]);
      expect(signedDecision(row.passkey)).toMatchObject({ auth_req_id: row.approval_id, reason: row.reason });
    }
    expect(rows.find((r) => r.approval_id === b)!.reason).toBe('no PO for this one');

    expect(JSON.parse(new URLSearchParams(posted).get('passkey')!).type).toBe('public-key');
    // The same signed form again: the challenge is used up, and the page says nothing was recorded.
    const again = await fetch(`${origin}/approve/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: posted,
    });
    expect(again.status).toBe(400);
    const text = await again.text();
    expect(text).toContain('Nothing was recorded');
    expect(text).toContain('was used already (a replay)');
  });
});
