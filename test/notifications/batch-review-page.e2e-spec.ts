/**
 * The approver's pages, phone first, in real Chromium (issue 15): on a 390 px screen the first
 * screen of the approval page carries the call (binding message, key arguments), for whom, the
 * risk, the time left, the standing-approval choice, the reason and the decision buttons; the
 * batch page does the same for several calls of one agent and task, and decides them each or all
 * alike, one vote per call. Screenshots at 390x844 and 1280x800 go to test/artifacts/.
 */
import { randomUUID } from 'node:crypto';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { artifactPath, launchBrowser, PHONE_VIEWPORT } from '../support/browser';
import { requestRow, sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';

const DESKTOP = { width: 1280, height: 800 };
const PERMIT = `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "transfer_funds" };`;
const POLICIES = {
  standing: `@obligation("human_approval") @approvers("user:bob") @binding_message("Transfer funds from the operating account") @standing("session,window") @standing_max_seconds("3600") @standing_max_uses("10") @standing_pin("currency") ${PERMIT}`,
};

describe('approval and batch pages, phone first (Chromium)', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let browser: Browser;
  let gateway: string;
  let agent: string;
  const contexts: BrowserContext[] = [];

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
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await env?.teardown();
  });

  /** A transfer the policy parks for bob, in this MCP session (the calls name no task id, so the session groups them). */
  const park = async (session: string, amount: number, to: string) => {
    const res = await call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agent },
        action: {
          server: 'payments',
          tool: 'transfer_funds',
          arguments: { amount, currency: 'EUR', to, memo: `Invoice INV-${amount} for the quarterly supplier run` },
        },
        intent: { category: 'pay', text: 'pay the supplier invoices due this week' },
        resource: { id: 'acct-7', type: 'bank_account', classification: 'restricted' },
        environment: 'production',
        reason: `Invoice INV-${amount} is due on Friday`,
        correlation: { mcp_session_id: session },
      },
    });
    expect(res.status).toBe(202);
    return res.body.auth_req_id as string;
  };
  const pageUrl = async (id: string) => {
    const { token } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    return `${api.url}/approve/${id}?link=${encodeURIComponent(token)}`;
  };
  const votes = (ids: string[]) =>
    sql<{ approval_id: string; decision: string; reason: string }>(
      env.db.url,
      `SELECT approval_id, decision, reason FROM approval_votes WHERE approval_id = ANY($1) ORDER BY id`,
      [ids],
    );

  async function open(url: string, viewport: { width: number; height: number }): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    page.on('pageerror', (err) => problems.push(err.message));
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    return { page, problems };
  }

  /** Every one of these lies wholly inside the first screen (the page as loaded, not scrolled). */
  async function expectOnFirstScreen(page: Page, selectors: string[], viewport = PHONE_VIEWPORT) {
    expect(await page.evaluate('window.scrollY')).toBe(0);
    for (const selector of selectors) {
      const box = await page.locator(selector).boundingBox();
      if (!box) throw new Error(`${selector} is not rendered`);
      expect({ selector, inside: box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height }).toEqual({
        selector,
        inside: true,
      });
    }
  }

  it('the approval page: on a phone the call, for whom, the risk, the time left, the standing choice, the reason and Approve/Deny are on the first screen; the rest is one tap away', async () => {
    const session = `sess-${randomUUID()}`;
    const id = await park(session, 4321, 'GB33BUKB20201555555555');
    const url = await pageUrl(id);
    const { page, problems } = await open(url, PHONE_VIEWPORT);
    await page.screenshot({ path: artifactPath('phone-first/approval-390x844.png') });
    await page.screenshot({ path: artifactPath('phone-first/approval-390-full.png'), fullPage: true });
    await expectOnFirstScreen(page, [
      '#binding-message',
      '#summary',
      '#key-arguments',
      '#summary-for',
      '#summary-risk',
      '#time-left',
      '#standing',
      '#reason',
      '#approve',
      '#deny',
    ]);
    expect(await page.locator('#binding-message').innerText()).toBe('Transfer funds from the operating account');
    const summary = await page.locator('#summary').innerText();
    for (const part of ['payments/transfer_funds', '4321', 'GB33BUKB20201555555555', 'alice', 'pay-agent', 'restricted', 'production'])
      expect(summary).toContain(part);
    // What the chosen scope covers is said for the chosen one; a standing scope opens its terms.
    expect(await page.locator('#standing-summary').innerText()).toContain('Only the call above');
    expect(await page.locator('#standing-terms').isVisible()).toBe(false);
    await page.locator('#standing-session').check();
    expect(await page.locator('#standing-summary').innerText()).toContain(session);
    await page.screenshot({ path: artifactPath('phone-first/approval-390x844-session.png') });
    await expectOnFirstScreen(page, ['#standing-terms', '#standing-summary', '#approve', '#deny']);
    // The full arguments, the agent's reason and the call hash are behind one tap.
    expect(await page.locator('#arguments').isVisible()).toBe(false);
    await page.click('#more > summary');
    expect(await page.locator('#arguments').innerText()).toContain('Invoice INV-4321 for the quarterly supplier run');
    expect(await page.locator('blockquote.agent-reason').innerText()).toBe('Invoice INV-4321 is due on Friday');
    // One call alone offers no batch.
    expect(await page.locator('#batch-link').count()).toBe(0);
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(PHONE_VIEWPORT.width);

    const desktop = await open(url, DESKTOP);
    await desktop.page.screenshot({ path: artifactPath('phone-first/approval-1280x800.png') });
    await expectOnFirstScreen(desktop.page, ['#approve', '#deny', '#reason'], DESKTOP);
    expect([...problems, ...desktop.problems]).toEqual([]);
  });

  it('the batch page: several calls of one agent and session, every argument visible, decided each, then all alike with one reason; a call settled meanwhile is reported and untouched', async () => {
    const session = `sess-${randomUUID()}`;
    const [a, b, c] = [
      await park(session, 1200, 'DE89370400440532013000'),
      await park(session, 860, 'FR1420041010050500013M02606'),
      await park(session, 97, 'NL91ABNA0417164300'),
    ];
    const other = await park(`sess-${randomUUID()}`, 5, 'DE89370400440532013000');

    // The single page offers the batch when several calls wait.
    const { page, problems } = await open(await pageUrl(a), PHONE_VIEWPORT);
    expect(await page.locator('#batch-offer').innerText()).toContain('3 calls by this agent in this MCP session');
    await Promise.all([page.waitForURL(/\/approve\/batch\?link=/), page.click('#batch-link')]);
    await page.screenshot({ path: artifactPath('phone-first/batch-390x844.png') });
    await page.screenshot({ path: artifactPath('phone-first/batch-390-full.png'), fullPage: true });
    await expectOnFirstScreen(page, ['#batch-title', '#batch-summary', '#batch-for', '#time-left', '#reason', '#approve', '#deny']);
    expect(await page.locator('#approve').innerText()).toBe('Approve all 3');
    const ids = await page.locator('input[name="ids"]').evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
    expect(ids).toEqual([a, b, c]);
    expect(ids).not.toContain(other);
    // Every call's arguments, in full, without a tap.
    for (const [id, to] of [
      [a, 'DE89370400440532013000'],
      [b, 'FR1420041010050500013M02606'],
      [c, 'NL91ABNA0417164300'],
    ]) {
      const args = page.locator(`#item-${id}-args`);
      expect(await args.isVisible()).toBe(true);
      expect(await args.innerText()).toContain(to);
    }
    const batchUrl = page.url();
    const desktop = await open(batchUrl, DESKTOP);
    await desktop.page.screenshot({ path: artifactPath('phone-first/batch-1280x800.png') });
    await expectOnFirstScreen(desktop.page, ['#approve', '#deny', '#reason'], DESKTOP);
    await desktop.page.context().close();

    // Each on its own: deny a with its own reason, approve b with the shared one, leave c for later.
    await page.locator(`input[name="decision.${a}"][value="deny"]`).check();
    await page.click(`#item-${a} details.own-reason > summary`);
    await page.fill(`#reason-${a}`, 'IBAN changed last week; call the supplier first');
    await page.locator(`input[name="decision.${b}"][value="approve"]`).check();
    await page.fill('#reason', 'matches the open invoices');
    await Promise.all([page.waitForURL(/\/approve\/batch$/), page.click('#submit-each')]);
    await page.screenshot({ path: artifactPath('phone-first/batch-result-390x844.png') });
    expect(await page.locator('#result').innerText()).toBe('Recorded 2 of 2 decisions');
    expect(await page.locator(`#result-${a}`).innerText()).toContain('you denied');
    expect(await page.locator(`#result-${b}`).innerText()).toContain('you approved');
    expect(await votes([a, b, c])).toEqual([
      { approval_id: a, decision: 'deny', reason: 'IBAN changed last week; call the supplier first' },
      { approval_id: b, decision: 'approve', reason: 'matches the open invoices' },
    ]);
    expect((await requestRow(env.db.url, c)).status).toBe('pending');

    // All alike: one more call arrives; c is withdrawn while the page is open; Deny all with one reason.
    const d = await park(session, 3300, 'IT60X0542811101000000123456');
    await page.goto(batchUrl);
    expect(await page.locator('#approve').innerText()).toBe('Approve all 2');
    expect((await call(api.url, 'DELETE', `/v1/approvals/${c}`, { token: gateway })).status).toBe(200);
    await page.fill('#reason', 'stop: the session looks off');
    await Promise.all([page.waitForURL(/\/approve\/batch$/), page.click('#deny')]);
    expect(await page.locator('#result').innerText()).toBe('Recorded 1 of 2 decisions');
    expect(await page.locator(`#result-${c}`).innerText()).toMatch(/not recorded \(the approval request is cancelled/);
    expect(await page.locator(`#result-${d}`).innerText()).toContain('you denied');
    expect(await votes([c, d])).toEqual([{ approval_id: d, decision: 'deny', reason: 'stop: the session looks off' }]);
    expect((await requestRow(env.db.url, c)).status).toBe('cancelled');
    expect((await requestRow(env.db.url, d)).status).toBe('denied');
    const audit = await sql(env.db.url, `SELECT approval_id FROM audit_events WHERE type = 'approval.vote' AND approval_id = ANY($1) ORDER BY id`, [
      [a, b, c, d],
    ]);
    expect(audit.map((r) => r.approval_id)).toEqual([a, b, d]);
    expect(problems).toEqual([]);
  });

  it('the batch page refuses a bad link and a form without its token, and changes nothing', async () => {
    const session = `sess-${randomUUID()}`;
    const id = await park(session, 10, 'DE89370400440532013000');
    expect((await fetch(`${api.url}/approve/batch?link=not-a-link`)).status).toBe(401);
    const single = (await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' })).token;
    expect((await fetch(`${api.url}/approve/batch?link=${encodeURIComponent(single)}`)).status).toBe(401);
    const batch = await call(api.url, 'POST', `/v1/approvals/${id}/batch-link`, { token: single });
    const form = (params: Record<string, string>, headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' }) =>
      fetch(`${api.url}/approve/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(params),
      });
    expect((await form({ link: batch.body.token, csrf: 'stale', all: 'approve', reason: 'ok', ids: id })).status).toBe(403);
    expect((await form({ link: batch.body.token, all: 'approve', reason: 'ok', ids: id }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // With a real form token but no reason: 400 naming the field.
    const pageAt = `${api.url}/approve/batch?link=${encodeURIComponent(batch.body.token)}`;
    const html = await (await fetch(pageAt)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1];
    const noReason = await form({ link: batch.body.token, csrf, all: 'approve', reason: ' ', ids: id });
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toContain('reason: is required with all');
    expect(await votes([id])).toEqual([]);
  });
});
