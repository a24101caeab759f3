import { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { PAGE_CSS_PATH, PAGE_JS_PATH } from '../../src/notifications/page/page.assets';
import { call, parkBody, tenantToken } from '../support/api';
import { selfLinked, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { artifactPath, DESKTOP_VIEWPORT, launchBrowser, PHONE_VIEWPORT } from '../support/browser';
import { eventually, requestRow, sql } from '../support/callback-server';
import { linkIn, NotificationSinks, notificationSinks } from '../support/notifications';

// DOM globals used inside page.evaluate callbacks: those run in the browser (Playwright serializes them);
// test/tsconfig.json has no DOM lib, so they are declared here, scoped to this module.
declare const document: any;
declare function getComputedStyle(el: unknown): { backgroundColor: string };

/**
 * The approver's page end to end: a real gateway parks a request, the app emails each approver a
 * link (SMTP sink), a real Chromium opens it and decides, and the gateway's long-poll / token
 * endpoint sees the outcome.
 */
describe('approval page (email link → browser → decision)', () => {
  let env: TestEnvironment;
  let sinks: NotificationSinks;
  let api: TestApp;
  let browser: Browser;
  let gateway: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    env = await testEnvironment();
    sinks = await notificationSinks();
    api = await env.start({ ...sinks.config, ...(await selfLinked()) });
    browser = await launchBrowser();
    gateway = await tenantToken('acme');
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    // A long-poll still in flight (a test failed before its decision) leaves a keep-alive socket that
    // the app's close would otherwise wait ~70 s for (the server advertises Keep-Alive: timeout=72).
    api?.app.getHttpServer().closeAllConnections();
    await env?.teardown();
    await sinks?.close();
  });

  // ---------------------------------------------------------------- helpers

  async function park(obligation: Record<string, unknown>, overrides: Record<string, unknown> = {}): Promise<string> {
    const res = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body: parkBody({ obligation, ...overrides }) });
    expect(res.status).toBe(200);
    expect(res.body.auth_req_id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    return res.body.auth_req_id;
  }

  /** The approval link in the email the app sent this approver for this request. */
  async function linkFor(id: string, approverId: string): Promise<string> {
    const mail = await sinks.mail.waitFor((m) => m.envelope.to.includes(`${approverId}@acme.example`) && (m.parsed.text ?? '').includes(id));
    const link = linkIn(mail);
    expect(link.startsWith(`${api.url}/approve/${id}?link=`)).toBe(true);
    return link;
  }

  const view = async (id: string) => {
    const res = await call(api.url, 'GET', `/v1/approvals/${id}`, { token: gateway });
    expect(res.status).toBe(200);
    return res.body;
  };

  const voteRows = (id: string) =>
    sql<{ approver_id: string; decision: string; reason: string }>(
      env.db.url,
      `SELECT approver_id, decision, reason FROM approval_votes WHERE approval_id = $1 ORDER BY id`,
      [id],
    );

  /** A gateway long-poll started now and not awaited; `settled` tells whether it has answered yet. */
  function longPoll(id: string, wait: number) {
    const state = { settled: false };
    const promise = call(api.url, 'GET', `/v1/approvals/${id}?wait=${wait}`, { token: gateway });
    promise.then(
      () => (state.settled = true),
      () => (state.settled = true),
    );
    return { promise, state };
  }

  interface OpenedPage {
    page: Page;
    response: Response;
    /** console errors, uncaught page errors and CSP violation events seen by the page so far. */
    problems: string[];
  }

  /** A fresh browser context (no shared state) with the link opened. */
  async function open(url: string, viewport = DESKTOP_VIEWPORT): Promise<OpenedPage> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    // Fail a missing element in seconds, not at the jest timeout.
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // Init scripts run outside the page's CSP; a blocked resource or inline code fires this event.
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e: any) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const response = await page.goto(url);
    if (!response) throw new Error(`no response for ${url}`);
    return { page, response, problems };
  }

  /** Clicks a decision button; the form post it causes must be recorded (200), else the error page says why. */
  async function submitWith(page: Page, button: '#approve' | '#deny'): Promise<Response> {
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.startsWith('/approve/')),
      page.click(button),
    ]);
    await page.waitForLoadState('domcontentloaded');
    if (res.status() !== 200) {
      const sent = await res.request().allHeaders();
      throw new Error(
        `the decision form post answered ${res.status()}: ${(await page.locator('main').innerText()).replace(/\s+/g, ' ')} ` +
          `(browser sent origin=${sent.origin}, sec-fetch-site=${sent['sec-fetch-site']})`,
      );
    }
    return res;
  }

  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  /** The page HTML fetched from Node, and the hidden form fields in it. */
  async function formFields(link: string): Promise<{ status: number; link: string; csrf: string }> {
    const res = await fetch(link);
    const html = await res.text();
    const hidden = (name: string) => {
      const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
      if (!m) throw new Error(`no hidden ${name} field in the page (HTTP ${res.status})`);
      return m[1]
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
    };
    return { status: res.status, link: hidden('link'), csrf: hidden('csrf') };
  }

  /** POSTs the approval form from Node (no browser), as a forged or replayed submission would. */
  async function postForm(id: string, fields: Record<string, string | undefined>, headers: Record<string, string> = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, v);
    const res = await fetch(`${api.url}/approve/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: body.toString(),
    });
    return { status: res.status, headers: res.headers, html: await res.text() };
  }

  const sameSite = () => ({ origin: api.url, 'sec-fetch-site': 'same-origin' });

  // ---------------------------------------------------------------- 1. approve

  describe('approving from the emailed link', () => {
    const binding = 'Wire 4,321.09 EUR to Zephyr Widgets Ltd (invoice ZW-88017)';
    const args = { amount: 4321.09, currency: 'EUR', to: 'GB33BUKB20201555555555', memo: 'ZW-88017 widgets' };
    let id: string;

    it('shows everything needed to judge, under a strict CSP, and the approval reaches the waiting gateway', async () => {
      id = await park(
        { approvers: ['user:bob'], quorum: 1, binding_message: binding },
        {
          tool_call: { server: 'treasury-mcp', tool: 'send_wire', arguments: args },
          reason: 'Supplier Zephyr asked for settlement before Friday',
          resource: { id: 'acct-zephyr', type: 'bank_account', classification: 'restricted' },
        },
      );
      const poll = longPoll(id, 30);
      const gatewayView = await view(id);
      expect(gatewayView.status).toBe('pending');

      const link = await linkFor(id, 'bob');
      const { page, response, problems } = await open(link, DESKTOP_VIEWPORT);

      expect(response.status()).toBe(200);
      const headers = response.headers();
      expect(headers['content-type']).toMatch(/^text\/html/);
      expect(headers['content-security-policy']).toContain("default-src 'none'");
      expect(headers['content-security-policy']).toContain("script-src 'self'");
      expect(headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(headers['cache-control']).toBe('no-store');

      expect(await text(page, 'h1#binding-message')).toBe(binding);
      expect(await page.title()).toContain(binding);
      // The first screen shows the call in brief; everything else is one tap away.
      expect(await text(page, '#summary')).toContain('GB33BUKB20201555555555');
      await page.click('#more > summary');
      const main = await text(page, 'main');
      expect(main).toContain('treasury-mcp');
      expect(main).toContain('send_wire');
      expect(await text(page, '#arguments')).toContain('GB33BUKB20201555555555');
      expect(await text(page, '#arguments')).toContain('ZW-88017 widgets');
      expect(gatewayView.call_hash).toEqual(expect.any(String));
      expect(main).toContain(gatewayView.call_hash);
      expect(main).toContain('spiffe://acme.example/agents/payment-agent');
      expect(await page.locator('section[aria-labelledby="who-h"]').innerText()).toContain('alice');
      expect((await page.locator('#summary-risk .badge--classification').innerText()).toLowerCase()).toBe('restricted');
      expect((await page.locator('section[aria-labelledby="resource-h"] .badge--classification').innerText()).toLowerCase()).toBe('restricted');
      expect(await text(page, 'blockquote.agent-reason')).toBe('Supplier Zephyr asked for settlement before Friday');
      expect(await text(page, '#time-left')).toMatch(/^\d+ (d|h|min|s)( \d+ (h|min|s))?$/);
      expect(main).toContain(id);
      // The stylesheet and script are same-origin files the CSP allows: both loaded and applied.
      const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
      expect(loaded).toEqual(expect.arrayContaining([PAGE_CSS_PATH, PAGE_JS_PATH]));
      expect(await page.locator('#approve').evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(20, 108, 46)');

      await page.screenshot({ path: artifactPath('approval-page-desktop.png'), fullPage: true });
      await page.setViewportSize(PHONE_VIEWPORT);
      await page.screenshot({ path: artifactPath('approval-page-phone.png'), fullPage: true });
      const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
      expect(widths.doc).toBeLessThanOrEqual(PHONE_VIEWPORT.width);
      expect(widths.body).toBeLessThanOrEqual(PHONE_VIEWPORT.width);
      // Buttons stay big enough to tap at phone width.
      const approveBox = await page.locator('#approve').boundingBox();
      expect(approveBox!.height).toBeGreaterThanOrEqual(44);

      // The gateway is still waiting: nobody has decided.
      expect(poll.state.settled).toBe(false);

      await page.fill('#reason', 'Invoice ZW-88017 matches the PO, approved');
      const post = await submitWith(page, '#approve');
      expect(post.status()).toBe(200);
      expect(post.headers()['content-security-policy']).toContain("default-src 'none'");
      expect(await text(page, 'h1#result')).toBe('You approved');
      expect(await text(page, '#request-status')).toMatch(/^Approved/);

      const answered = await poll.promise;
      expect(answered.status).toBe(200);
      expect(answered.body.status).toBe('approved');
      expect(answered.body.votes.cast).toEqual([
        expect.objectContaining({ approver: 'bob', decision: 'approve', reason: 'Invoice ZW-88017 matches the PO, approved' }),
      ]);

      const token = await call(api.url, 'POST', `/v1/approvals/${id}/token`, { token: gateway });
      expect(token.status).toBe(200);
      expect(token.body.approval_token).toEqual(expect.any(String));
      expect(token.body.approval_token.split('.')).toHaveLength(3);

      expect(await voteRows(id)).toEqual([{ approver_id: 'bob', decision: 'approve', reason: 'Invoice ZW-88017 matches the PO, approved' }]);
      expect(problems).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- 2. accessibility

  describe('accessibility basics', () => {
    let id: string;
    let opened: OpenedPage;

    beforeAll(async () => {
      id = await park({ approvers: ['user:erin'], quorum: 1, binding_message: 'Read the HR salary sheet' });
      opened = await open(await linkFor(id, 'erin'));
      expect(opened.response.status()).toBe(200);
    });

    it('the reason field has a label, there is a main landmark, and the buttons are reachable with Tab', async () => {
      const { page } = opened;
      const reason = page.getByLabel(/reason/i);
      expect(await reason.count()).toBe(1);
      expect(await reason.evaluate((el) => el.id)).toBe('reason');
      expect(await page.getByRole('main').count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(1);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');

      const reached: string[] = [];
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        const active = await page.evaluate(() => document.activeElement?.id ?? '');
        reached.push(active);
        if (active === 'approve') break;
      }
      expect(reached).toContain('reason');
      expect(reached[reached.length - 1]).toBe('approve');
      expect(reached.indexOf('reason')).toBeLessThan(reached.indexOf('approve'));
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('deny');
    });

    it('submitting with an empty (or blank) reason is blocked in the browser and records no vote', async () => {
      const { page } = opened;
      const posts: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST') posts.push(r.url());
      });

      await page.fill('#reason', '');
      await page.click('#approve');
      expect(await page.locator('#reason').evaluate((el) => (el as any).validity.valueMissing)).toBe(true);

      // Whitespace passes `required`; the page script refuses it (the server would too).
      await page.fill('#reason', '   ');
      await page.click('#approve');
      expect(await page.locator('#reason').evaluate((el) => (el as any).validationMessage)).toBe('Please give a reason.');

      // Give a (wrongly) submitted form time to reach the server before looking.
      await page.waitForTimeout(300);
      expect(posts).toEqual([]);
      expect(new URL(page.url()).search).toContain('link=');
      expect(await page.locator('#approve').isEnabled()).toBe(true);
      expect(await voteRows(id)).toEqual([]);
      expect((await view(id)).status).toBe('pending');
      expect(opened.problems).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- 3 + 4. deny, then replay

  describe('denying, then replaying the used link', () => {
    let id: string;
    let link: string;
    let usedForm: { link: string; csrf: string };

    it('deny with a reason: the result page says denied and the request is denied', async () => {
      id = await park({ approvers: ['user:carol'], quorum: 1, binding_message: 'Delete the prod audit bucket' });
      link = await linkFor(id, 'carol');
      const { page, response, problems } = await open(link);
      expect(response.status()).toBe(200);
      usedForm = {
        link: (await page.locator('input[name="link"]').getAttribute('value'))!,
        csrf: (await page.locator('input[name="csrf"]').getAttribute('value'))!,
      };
      expect(usedForm.csrf.split('.')).toHaveLength(3);

      await page.fill('#reason', 'Nobody asked for this; audit data must be kept 7 years');
      const post = await submitWith(page, '#deny');
      expect(post.status()).toBe(200);
      expect(await text(page, 'h1#result')).toBe('You denied');
      expect(await text(page, '#request-status')).toMatch(/^Denied/);

      const v = await view(id);
      expect(v.status).toBe('denied');
      expect(await voteRows(id)).toEqual([{ approver_id: 'carol', decision: 'deny', reason: 'Nobody asked for this; audit data must be kept 7 years' }]);
      expect(problems).toEqual([]);
    });

    it('opening the link again shows what was decided and by whom, without the form', async () => {
      expect(usedForm).toBeDefined();
      const { page, response, problems } = await open(link);
      expect(response.status()).toBe(200);
      expect(response.headers()['content-security-policy']).toContain("default-src 'none'");
      expect(await text(page, 'h1#result')).toBe('You denied this request');
      expect(await text(page, '#request-status')).toMatch(/^Denied/);
      expect(await text(page, '#decided-by-list')).toContain('Nobody asked for this; audit data must be kept 7 years');
      expect(await page.locator('#decision-form').count()).toBe(0);
      expect(problems).toEqual([]);
    });

    it('resubmitting the old form records nothing new', async () => {
      const res = await postForm(id, { ...usedForm, decision: 'approve', reason: 'second try' }, sameSite());
      expect(res.status).toBe(409);
      // Either refusal is right here: the link was used and the request is closed.
      expect(res.html).toMatch(/link has been used|request is denied/i);
      expect(res.html).toContain('Nothing was changed');
      const rows = await voteRows(id);
      expect(rows).toHaveLength(1);
      expect(rows[0].decision).toBe('deny');
      expect((await view(id)).status).toBe('denied');
    });
  });

  // ---------------------------------------------------------------- 5. expired

  it('an expired link shows a 410 "expired" page and records nothing', async () => {
    const id = await park({ approvers: ['user:dave'], quorum: 1, expires_in: 2, binding_message: 'Short-lived request' });
    const link = await linkFor(id, 'dave');
    const expiresAt = new Date((await view(id)).expires_at).getTime();
    // The link's exp is the request's expiry rounded up to the whole second.
    const linkDeadline = Math.ceil(expiresAt / 1000) * 1000 + 100;
    await new Promise((r) => setTimeout(r, Math.max(0, linkDeadline - Date.now())));

    const { page, response } = await open(link);
    expect(response.status()).toBe(410);
    expect(await text(page, 'h1#error-title')).toMatch(/expired/i);
    expect(await text(page, '#error-message')).toMatch(/expired/i);
    expect(await page.locator('#decision-form').count()).toBe(0);
    await page.screenshot({ path: artifactPath('approval-page-expired.png'), fullPage: true });

    expect(await voteRows(id)).toEqual([]);
    expect((await view(id)).status).toBe('expired');
  });

  // ---------------------------------------------------------------- 6. tampered / wrong request

  describe('a link that is not valid for the request', () => {
    let id: string;
    let other: string;
    let link: string;

    beforeAll(async () => {
      id = await park({ approvers: ['user:bob'], quorum: 1, binding_message: 'Tamper target' });
      other = await park({ approvers: ['user:bob'], quorum: 1, binding_message: 'Someone else' });
      link = await linkFor(id, 'bob');
    });

    it('a changed character in the signature is a 401 "not valid" page; nothing changes', async () => {
      const url = new URL(link);
      const token = url.searchParams.get('link')!;
      const [h, p, s] = token.split('.');
      const i = Math.floor(s.length / 2);
      const tampered = `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
      expect(tampered).not.toBe(token);
      url.searchParams.set('link', tampered);

      const { page, response } = await open(url.toString());
      expect(response.status()).toBe(401);
      expect(await text(page, 'h1#error-title')).toMatch(/not valid/i);
      expect(await page.locator('#decision-form').count()).toBe(0);

      // Posting with it is refused too.
      const res = await postForm(id, { link: tampered, csrf: 'x', decision: 'approve', reason: 'forged' }, sameSite());
      expect(res.status).toBe(401);

      expect(await voteRows(id)).toEqual([]);
      expect((await view(id)).status).toBe('pending');
    });

    it("another request's id with this link is a 404 page", async () => {
      const url = new URL(link);
      url.pathname = `/approve/${other}`;
      const { page, response } = await open(url.toString());
      expect(response.status()).toBe(404);
      expect(await text(page, 'h1#error-title')).toMatch(/not valid/i);
      expect(await text(page, '#error-message')).toMatch(/no request matches/i);

      const { link: token, csrf } = await formFields(link);
      const res = await postForm(other, { link: token, csrf, decision: 'approve', reason: 'wrong request' }, sameSite());
      expect(res.status).toBe(404);

      expect(await voteRows(other)).toEqual([]);
      expect(await voteRows(id)).toEqual([]);
      expect((await view(other)).status).toBe('pending');
    });

    it('the untouched link still works (the refusals above were about the changes)', async () => {
      const { page, response } = await open(link);
      expect(response.status()).toBe(200);
      expect(await text(page, 'h1#binding-message')).toBe('Tamper target');
    });
  });

  // ---------------------------------------------------------------- 7. quorum of two

  describe('two approvers, quorum 2', () => {
    let id: string;
    let poll: ReturnType<typeof longPoll>;
    let bobLink: string;
    let bobForm: { link: string; csrf: string };

    beforeAll(async () => {
      id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2, binding_message: 'Raise the card limit to 50k' });
      poll = longPoll(id, 30);
    });

    it("bob's approval leaves it pending and waiting for 1 more", async () => {
      bobLink = await linkFor(id, 'bob');
      const { page, response } = await open(bobLink);
      expect(response.status()).toBe(200);
      await page.click('#more > summary');
      expect(await text(page, '#quorum')).toContain('0 of 2 approvals');
      bobForm = {
        link: (await page.locator('input[name="link"]').getAttribute('value'))!,
        csrf: (await page.locator('input[name="csrf"]').getAttribute('value'))!,
      };
      await page.fill('#reason', 'bob: within policy');
      await submitWith(page, '#approve');
      expect(await text(page, 'h1#result')).toBe('You approved');
      expect(await text(page, '#request-status')).toBe('Waiting for 1 more approval.');

      expect((await view(id)).status).toBe('pending');
      const short = await call(api.url, 'GET', `/v1/approvals/${id}?wait=1`, { token: gateway });
      expect(short.status).toBe(200);
      expect(short.body.status).toBe('pending');
      expect(short.body.votes.approve).toBe(1);
      expect(poll.state.settled).toBe(false);
    });

    it("while it is still pending, bob's link shows his vote and his form is spent (409 'has been used'), no second vote", async () => {
      const { page, response } = await open(bobLink);
      expect(response.status()).toBe(200);
      expect(await text(page, 'h1#result')).toBe('You approved this request');
      expect(await text(page, '#request-status')).toBe('Waiting for 1 more approval.');
      expect(await page.locator('#decision-form').count()).toBe(0);
      const replay = await postForm(id, { ...bobForm, decision: 'deny', reason: 'bob again' }, sameSite());
      expect(replay.status).toBe(409);
      expect(replay.html).toMatch(/link has been used/i);
      expect(await voteRows(id)).toEqual([{ approver_id: 'bob', decision: 'approve', reason: 'bob: within policy' }]);
      expect((await view(id)).status).toBe('pending');
      expect(poll.state.settled).toBe(false);
    });

    it("carol sees bob's vote, approves, and the waiting long-poll answers approved", async () => {
      const { page, response } = await open(await linkFor(id, 'carol'));
      expect(response.status()).toBe(200);
      await page.click('#more > summary');
      const votes = page.locator('section[aria-labelledby="votes-h"]');
      expect(await votes.locator('ul.votes').innerText()).toContain('bob');
      expect(await votes.locator('ul.votes').innerText()).toContain('approved');
      // Reasons stay private while the request is pending.
      expect(await page.locator('main').innerText()).not.toContain('bob: within policy');
      expect(await text(page, '#quorum')).toContain('1 of 2 approvals');

      await page.fill('#reason', 'carol: agreed');
      await submitWith(page, '#approve');
      expect(await text(page, 'h1#result')).toBe('You approved');
      expect(await text(page, '#request-status')).toMatch(/^Approved/);

      const answered = await poll.promise;
      expect(answered.status).toBe(200);
      expect(answered.body.status).toBe('approved');
      expect(answered.body.votes.approve).toBe(2);
      expect((await voteRows(id)).map((r) => r.approver_id)).toEqual(['bob', 'carol']);
    });
  });

  // ---------------------------------------------------------------- 8. CSRF

  describe('cross-site posts are refused', () => {
    let id: string;
    let fields: { link: string; csrf: string };

    beforeAll(async () => {
      id = await park({ approvers: ['user:erin'], quorum: 1, binding_message: 'CSRF target' });
      const f = await formFields(await linkFor(id, 'erin'));
      expect(f.status).toBe(200);
      fields = { link: f.link, csrf: f.csrf };
    });

    const vote = { decision: 'approve', reason: 'forged by another site' };
    const expectRefused = async (res: { status: number; html: string; headers: Headers }) => {
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.html).toContain('Nothing was changed');
      expect(await voteRows(id)).toEqual([]);
    };

    it('Origin of another site → 403', async () => {
      await expectRefused(await postForm(id, { ...fields, ...vote }, { origin: 'https://evil.example' }));
    });

    it('Sec-Fetch-Site: cross-site → 403', async () => {
      await expectRefused(await postForm(id, { ...fields, ...vote }, { 'sec-fetch-site': 'cross-site' }));
    });

    it('Origin: null (sandboxed frame / data: URL) → 403', async () => {
      await expectRefused(await postForm(id, { ...fields, ...vote }, { origin: 'null' }));
    });

    it('a missing or garbage csrf field → 403', async () => {
      await expectRefused(await postForm(id, { link: fields.link, ...vote }, sameSite()));
      await expectRefused(await postForm(id, { link: fields.link, csrf: 'garbage', ...vote }, sameSite()));
      // A well-formed token from the page of another link (bob's, for another request) does not fit this link.
      const otherId = await park({ approvers: ['user:bob'], quorum: 1 });
      const otherFields = await formFields(await linkFor(otherId, 'bob'));
      await expectRefused(await postForm(id, { link: fields.link, csrf: otherFields.csrf, ...vote }, sameSite()));
    });

    it('the same post from this site is accepted (so the refusals above were about CSRF)', async () => {
      const res = await postForm(id, { ...fields, decision: 'approve', reason: 'legit, same origin' }, sameSite());
      expect(res.status).toBe(200);
      expect(res.html).toContain('You approved');
      expect(await voteRows(id)).toEqual([{ approver_id: 'erin', decision: 'approve', reason: 'legit, same origin' }]);
      expect((await requestRow(env.db.url, id)).status).toBe('approved');
    });
  });

  // ---------------------------------------------------------------- 9. push button and service worker

  describe('enable push', () => {
    it('the button is there when VAPID is configured and clicking it reports a status without page errors', async () => {
      const id = await park({ approvers: ['user:gina'], quorum: 1, binding_message: 'Push button target' });
      const { page, response, problems } = await open(await linkFor(id, 'gina'));
      expect(response.status()).toBe(200);
      const button = page.locator('#enable-push');
      expect(await button.count()).toBe(1);
      expect(await button.getAttribute('data-vapid-public-key')).toBe(sinks.vapid.publicKey);
      expect(await text(page, '#push-status')).toBe('');

      await button.click();
      const status = await eventually(async () => (await text(page, '#push-status')).trim(), 5_000);
      // Headless Chromium has no push service and denies notifications; whatever it says, it says something useful.
      expect(status).toMatch(/notifications|not supported|push/i);
      await eventually(async () => !/Setting up/.test(await text(page, '#push-status')), 5_000);
      expect(problems).toEqual([]);
    });

    it('GET /sw.js is JavaScript from the site root', async () => {
      const res = await fetch(`${api.url}/sw.js`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const body = await res.text();
      expect(body).toContain("addEventListener('push'");
      expect(body).toContain("addEventListener('notificationclick'");
    });

    it('the page CSS and script are served under their content-hashed names, cacheable for good', async () => {
      for (const [path, type] of [
        [PAGE_CSS_PATH, /^text\/css/],
        [PAGE_JS_PATH, /^text\/javascript/],
      ] as const) {
        const res = await fetch(`${api.url}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(type);
        expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      // The unhashed names are gone: a page can only link a version that exists.
      expect((await fetch(`${api.url}/approve/assets/page.js`)).status).toBe(404);
    });
  });
});
