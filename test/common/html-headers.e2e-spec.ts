import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { ApprovalPage } from '../../src/notifications/page/approval-page.service';
import { parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval } from '../support/approvals';
import { OPERATORS, operatorToken } from '../ops/operators';

/** A plain fetch (no JSON parsing, no redirect following). */
async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

type Page = Awaited<ReturnType<typeof get>>;

/** What every HTML page must carry, whoever rendered it. */
function expectHtmlFloor(page: Page, opts: { noStore: boolean }) {
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/base-uri '(none|self)'/);
  if (opts.noStore) expect(page.headers.get('cache-control')).toContain('no-store');
}

/** The script and stylesheet URLs a page loads (resolved against its <base href> if it has one) answer 200. */
async function expectAssetsLoad(baseUrl: string, pageUrl: string, html: string, auth: Record<string, string> = {}) {
  const base = /<base href="([^"]*)"/.exec(html)?.[1];
  const resolveAgainst = new URL(base ?? pageUrl, pageUrl);
  const refs = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+\.(?:js|css))"/g)].map((m) => new URL(m[1], resolveAgainst));
  const own = refs.filter((u) => u.origin === new URL(baseUrl).origin);
  expect(own.length).toBeGreaterThan(0);
  for (const url of own) {
    const res = await get(url.toString(), auth);
    expect({ url: url.pathname, status: res.status }).toEqual({ url: url.pathname, status: 200 });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  }
}

describe('security headers on every HTML page, nosniff on every response, no stack in an error', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let operator: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start(OPERATORS);
    operator = await operatorToken();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('the approval page, with a valid link and with a bad one, keeps its own strict headers', async () => {
    const id = await parkApproval(api, await tenantToken(), parkBody());
    const { token: link } = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'bob' });
    const ok = await get(`${api.url}/approve/${id}?link=${encodeURIComponent(link)}`);
    expect(ok.status).toBe(200);
    expectHtmlFloor(ok, { noStore: true });
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");

    const bad = await get(`${api.url}/approve/${id}?link=not.a.link`);
    expect(bad.status).toBe(401);
    expectHtmlFloor(bad, { noStore: true });
    expect(bad.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it("the queue board's sign-in page (no credential, Accept: text/html) gets X-Frame-Options too", async () => {
    const page = await get(`${api.url}/admin/queues`, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(page.status).toBe(401);
    expectHtmlFloor(page, { noStore: true });
  });

  it('the queue board (bull-board) for an operator: the headers, no default-src, and its scripts still load', async () => {
    for (const auth of [{ authorization: `Bearer ${operator}` }, { cookie: `countersign_admin=${operator}` }] as Record<string, string>[]) {
      const page = await get(`${api.url}/admin/queues`, { ...auth, accept: 'text/html' });
      expect(page.status).toBe(200);
      expectHtmlFloor(page, { noStore: true });
      expect(page.headers.get('content-security-policy')).not.toContain('default-src');
      expect(page.headers.get('content-security-policy')).toContain("object-src 'none'");
      // Its script URLs are relative to <base href="/admin/queues/">, hence base-uri 'self' (not 'none') here.
      expect(page.text).toContain(`<base href="/admin/queues/"`);
      expect(page.headers.get('content-security-policy')).toContain("base-uri 'self'");
      await expectAssetsLoad(api.url, `${api.url}/admin/queues`, page.text, auth);
    }
  });

  it('Swagger UI at /docs: the headers, no default-src, and its scripts still load', async () => {
    const page = await get(`${api.url}/docs`, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expectHtmlFloor(page, { noStore: false });
    expect(page.headers.get('content-security-policy')).not.toContain('default-src');
    expect(page.headers.get('content-security-policy')).toContain("object-src 'none'");
    await expectAssetsLoad(api.url, `${api.url}/docs`, page.text);
  });

  it('JSON answers carry nosniff too (success, 401, 404, a framework 400)', async () => {
    for (const [path, status] of [
      ['/health/live', 200],
      ['/v1/approvals/nope', 401],
      ['/no-such-route', 404],
      ['/admin/queues/api/queues?activeQueue=%25', 400],
    ] as [string, number][]) {
      const res = await get(`${api.url}${path}`, path.startsWith('/admin') ? { authorization: `Bearer ${operator}` } : {});
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('an unexpected error on the approval page is a plain 500 JSON body: no stack frames, no message', async () => {
    const page = api.app.get(ApprovalPage);
    const secret = new Error('kaboom: secret internals');
    const spy = jest.spyOn(page, 'view').mockRejectedValue(secret);
    try {
      const res = await get(`${api.url}/approve/whatever?link=x`);
      expect(res.status).toBe(500);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.text).not.toMatch(/\bat \S+ \(|kaboom|\.ts:\d+/);
      expect(JSON.parse(res.text)).toEqual({ error: 'server_error', error_description: 'internal error' });
    } finally {
      spy.mockRestore();
    }
  });
});
