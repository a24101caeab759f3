/**
 * The approval page's standing-approval choice in real Chromium (issue 15): the page offers the
 * scopes the policy allows, each with exactly what it would cover, and an approval given as
 * "the rest of this session" lets the agent's next matching call through.
 */
import { randomUUID } from 'node:crypto';
import { Browser } from 'playwright-core';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { artifactPath, launchBrowser, PHONE_VIEWPORT } from '../support/browser';
import { agentToken, gatewayToken } from '../support/keys';

const PERMIT = (tool: string) => `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "${tool}" };`;
const POLICIES = {
  standing: `@obligation("human_approval") @approvers("user:bob") @standing("session,window") @standing_max_seconds("3600") @standing_max_uses("10") @standing_pin("currency") ${PERMIT('transfer_funds')}`,
  once: `@obligation("human_approval") @approvers("user:bob") ${PERMIT('refund')}`,
};

describe('approval page: standing approvals', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let browser: Browser;
  let gateway: string;
  let agent: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start();
    browser = await launchBrowser();
    gateway = await tenantToken('acme');
    expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } })).status).toBe(201);
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    expect(
      (await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent: 'pay-agent', tools: ['payments/*'] } })).status,
    ).toBe(201);
    agent = await agentToken({ human: 'alice', actors: ['pay-agent'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await env?.teardown();
  });

  const IBAN = 'DE89370400440532013000';
  const authorize = (tool: string, session: string, args: Record<string, unknown> = {}) =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: { server: 'payments', tool, arguments: { amount: 120, currency: 'EUR', to: IBAN, ...args } },
        intent: { category: 'pay' },
        resource: { id: 'acct-7' },
        correlation: { mcp_session_id: session },
      },
    });
  const pageUrl = async (id: string) => {
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    return `${api.url}/approve/${id}?link=${encodeURIComponent(token)}`;
  };

  it('offers this call, the session and the window, saying what the chosen one covers; "this session" lets the next matching call through', async () => {
    const session = `sess-${randomUUID()}`;
    const parked = await authorize('transfer_funds', session);
    expect(parked.status).toBe(202);
    const context = await browser.newContext({ viewport: PHONE_VIEWPORT });
    try {
      const page = await context.newPage();
      await page.goto(await pageUrl(parked.body.auth_req_id));
      expect(await page.locator('#standing input[type=radio]').evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value))).toEqual([
        'call',
        'session',
        'window',
      ]);
      expect(await page.locator('#standing-call').isChecked()).toBe(true);
      expect(await page.locator('#standing-summary').innerText()).toBe('Only the call above; the agent asks again next time.');
      expect(await page.locator('#standing-terms').isVisible()).toBe(false);
      await page.locator('#standing-session').check();
      const covers = await page.locator('#standing-summary').innerText();
      for (const part of ['pay-agent', 'alice', 'payments/transfer_funds', 'acct-7', 'currency = "EUR"', session, 'for up to 1 h,', 'at most 10 calls'])
        expect(covers).toContain(part);
      await page.fill('#reason', 'supplier run this morning');
      await page.locator('#decision-form').screenshot({ path: artifactPath('standing-approval-form-390.png') });
      await Promise.all([page.waitForURL(/\/approve\//), page.click('#approve')]);
      expect(await page.locator('#result').innerText()).toBe('You approved');
      expect(await page.locator('#standing-granted').innerText()).toContain(session);

      const next = await authorize('transfer_funds', session);
      expect(next.status).toBe(200);
      expect(next.body.reasons[0]).toBe('standing_approval');
      expect(next.body.standing_approval.approval_id).toBe(parked.body.auth_req_id);
      expect((await authorize('transfer_funds', `sess-${randomUUID()}`)).status).toBe(202);

      // The approver's own list, from the result page: what it covers, how much is used, and Revoke.
      await Promise.all([page.waitForURL(/\/approve\/standing/), page.click('#standing-manage')]);
      const id = next.body.standing_approval.id;
      const listed = await page.locator(`#sa-${id}-h`).locator('..').innerText();
      for (const part of ['pay-agent', 'payments/transfer_funds', 'acct-7', 'currency = "EUR"', session, '1 of 10']) expect(listed).toContain(part);
      await Promise.all([page.waitForURL(/\/approve\/standing/), page.click(`#revoke-${id}`)]);
      expect(await page.locator('#standing-notice').innerText()).toContain('Revoked');
      expect(await page.locator('#standing-none').count()).toBe(1);
    } finally {
      await context.close();
    }
    expect((await authorize('transfer_funds', session)).status).toBe(202);
  });

  it('an approver pins one more argument and picks a shorter window and fewer uses; the summary says so before they confirm, and later calls are held to it', async () => {
    // Its own payee, so that what it grants covers no other test's calls.
    const payee = 'NL91ABNA0417164300';
    const parked = await authorize('transfer_funds', `sess-${randomUUID()}`, { to: payee });
    expect(parked.status).toBe(202);
    const context = await browser.newContext({ viewport: PHONE_VIEWPORT });
    let summary: string;
    try {
      const page = await context.newPage();
      await page.goto(await pageUrl(parked.body.auth_req_id));
      await page.locator('#standing-window').check();
      // Phone first: with a standing scope chosen, what it covers and the decision are on the first screen; its terms are one tap away.
      await page.screenshot({ path: artifactPath('standing-approval-window-390.png') });
      for (const selector of ['#standing-terms > summary', '#standing-summary', '#approve', '#deny']) {
        const box = await page.locator(selector).boundingBox();
        expect({ selector, bottom: box!.y + box!.height <= PHONE_VIEWPORT.height }).toEqual({ selector, bottom: true });
      }
      await page.click('#standing-terms > summary');
      // The policy's pin is ticked and cannot be unticked; the others are the approver's to add.
      const pin = (path: string) => page.locator(`input.standing-pin[value="${path}"]`);
      expect([await pin('currency').isChecked(), await pin('currency').isDisabled()]).toEqual([true, true]);
      expect([await pin('to').isChecked(), await pin('amount').isChecked()]).toEqual([false, false]);
      // Windows up to the policy's hour, no longer.
      expect(await page.locator('#standing-expires-in option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))).toEqual([
        '300',
        '900',
        '1800',
        '3600',
      ]);
      expect(await page.locator('#standing-max-uses').getAttribute('max')).toBe('10');
      await pin('to').check();
      await page.selectOption('#standing-expires-in', '900');
      await page.fill('#standing-max-uses', '3');
      await page.fill('#reason', 'this supplier, this quarter hour');
      summary = await page.locator('#standing-summary').innerText();
      expect(summary).toBe(
        `Later calls by pay-agent for alice to payments/transfer_funds on acct-7 with currency = "EUR", to = "${payee}" (other arguments may differ), ` +
          'in any session, for 15 min, at most 3 calls.',
      );
      await page.locator('#standing-summary').scrollIntoViewIfNeeded();
      await page.screenshot({ path: artifactPath('standing-approval-terms-390.png') });
      await Promise.all([page.waitForURL(/\/approve\//), page.click('#approve')]);
      expect(await page.locator('#result').innerText()).toBe('You approved');
      // The result page (server-side words) says what the page said (page.js's words) before the vote.
      expect(await page.locator('#standing-granted').innerText()).toContain(summary);
    } finally {
      await context.close();
    }

    // Another session, another amount: covered (neither is pinned).
    const same = await authorize('transfer_funds', `sess-${randomUUID()}`, { to: payee, amount: 99 });
    expect(same.status).toBe(200);
    expect(same.body.reasons[0]).toBe('standing_approval');
    expect(same.body.standing_approval.approval_id).toBe(parked.body.auth_req_id);
    // Only the argument the approver pinned differs: not covered, it parks.
    const otherPayee = await authorize('transfer_funds', `sess-${randomUUID()}`, { to: IBAN });
    expect(otherPayee.status).toBe(202);
    expect(otherPayee.body.auth_req_id).toBeDefined();

    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: parked.body.auth_req_id, approverId: 'bob' });
    const mine = await call(api.url, 'GET', '/v1/standing-approvals/mine', { token });
    const granted = mine.body.standing_approvals.find((s: { id: string }) => s.id === same.body.standing_approval.id);
    expect(granted).toMatchObject({ scope: 'window', pinned: { currency: 'EUR', to: payee }, max_uses: 3, uses: 1, mcp_session_id: null });
    // The window the approver chose (15 min), not the policy's hour.
    expect((Date.parse(granted.expires_at) - Date.parse(granted.created_at)) / 1000).toBe(900);
  });

  it('refuses terms beyond the policy from the form, naming the field, and records no vote', async () => {
    const parked = await authorize('transfer_funds', `sess-${randomUUID()}`);
    const id = parked.body.auth_req_id;
    const url = await pageUrl(id);
    const html = await (await fetch(url)).text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1].replace(/&amp;/g, '&');
    const post = (terms: Record<string, string>) =>
      fetch(`${api.url}/approve/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ link: field('link'), csrf: field('csrf'), decision: 'approve', reason: 'ok', standing: 'window', ...terms }),
      });
    const tooLong = await post({ standing_expires_in: '7200' });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain('must be at most 3600 seconds (the policy&#39;s maximum)');
    const badPin = await post({ standing_pin: 'to amount' });
    expect(badPin.status).toBe(400);
    expect(await badPin.text()).toContain('standing_pin: must be an argument path');
    const tooMany = await post({ standing_max_uses: '11' });
    expect(tooMany.status).toBe(400);
    const status = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
    expect(status.body.status).toBe('pending');
  });

  it('the standing page refuses a bad link, and a revoke without its form token changes nothing', async () => {
    const bad = await fetch(`${api.url}/approve/standing?link=not-a-link`);
    expect(bad.status).toBe(401);
    const parked = await authorize('transfer_funds', `sess-${randomUUID()}`);
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: parked.body.auth_req_id, approverId: 'bob' });
    const vote = await call(api.url, 'POST', `/v1/approvals/${parked.body.auth_req_id}/decisions`, {
      token,
      body: { decision: 'approve', reason: 'ok', standing: { scope: 'window' } },
    });
    const id = vote.body.standing_approval.id;
    const form = (params: Record<string, string>) =>
      fetch(`${api.url}/approve/standing`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params),
      });
    expect((await form({ link: token, csrf: 'stale', id })).status).toBe(403);
    expect((await form({ link: token, id: 'sta_nope' })).status).toBe(400);
    const list = await call(api.url, 'GET', '/v1/standing-approvals/mine', { token });
    expect(list.body.standing_approvals).toEqual(expect.arrayContaining([expect.objectContaining({ id, status: 'active' })]));
  });

  it('offers no choice where the policy allows this call only', async () => {
    const parked = await authorize('refund', `sess-${randomUUID()}`);
    expect(parked.status).toBe(202);
    const html = await (await fetch(await pageUrl(parked.body.auth_req_id))).text();
    expect(html).toContain('id="decision-form"');
    expect(html).not.toContain('name="standing"');
  });
});
