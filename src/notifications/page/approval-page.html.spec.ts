import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { escapeHtml, formatDuration, renderApprovalPage, renderDecisionResult, renderErrorPage } from './approval-page.html';
import type { ApprovalPageModel, DecisionResultModel } from './approval-page.model';
import { contentHash, PAGE_CSS, PAGE_CSS_PATH, PAGE_JS, PAGE_JS_PATH, SERVICE_WORKER_JS, WEBAUTHN_JS_PATH } from './page.assets';

const SCRIPT_XSS = '<script>alert(1)</script>';
const ATTR_XSS = '"><img src=x onerror=alert(1)>';
const QUOTE_XSS = "'><svg onload=alert(1)>";
const PAYLOADS = [SCRIPT_XSS, ATTR_XSS, QUOTE_XSS];
const EVIL = `${SCRIPT_XSS}${ATTR_XSS}${QUOTE_XSS}`;

function fullModel(over: Partial<ApprovalPageModel> = {}): ApprovalPageModel {
  return {
    authReqId: 'areq_123',
    approver: { id: 'user:alice', displayName: 'Alice Approver' },
    bindingMessage: 'Refund 120 EUR to customer C-42',
    toolCall: {
      server: 'billing-mcp',
      tool: 'refund.create',
      arguments: { customerId: 'C-42', amount: { value: 120, currency: 'EUR' }, notify: true },
    },
    callHash: 'b64u_hash_ABCdef123',
    agent: {
      id: 'agent:support-bot',
      class: 'customer-support',
      trustLevel: 'medium',
      operator: 'ops-team',
      chain: ['user:bob', 'agent:orchestrator', 'agent:support-bot'],
    },
    delegator: { id: 'user:bob', displayName: 'Bob Delegator', delegationId: 'dlg_789' },
    intent: { id: 'task-555', text: 'Resolve ticket #555', category: 'customer-refund' },
    resource: { id: 'cust:C-42', type: 'customer_account', classification: 'confidential' },
    environment: 'production',
    risk: { anomalyScore: 0.82, newDestination: true, velocity: { lastHour: 3 } },
    reason: 'Customer was double charged',
    votes: [{ approverId: 'user:carol', decision: 'approve', at: '2030-01-01T10:00:00.000Z' }],
    quorum: 2,
    independentApprovers: true,
    expiresAt: '2030-01-01T10:10:00.000Z',
    secondsLeft: 598,
    linkToken: 'eyJhbGciOiJFUzI1NiJ9.payload.sig',
    csrfToken: 'csrf-token-xyz',
    formAction: '/approve/areq_123/decision',
    vapidPublicKey: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U',
    passkeys: { required: null, registered: [], always: false },
    ...over,
  };
}

function evilModel(): ApprovalPageModel {
  return {
    authReqId: EVIL,
    approver: { id: EVIL, displayName: EVIL },
    bindingMessage: EVIL,
    toolCall: { server: EVIL, tool: EVIL, arguments: { [EVIL]: EVIL, nested: { [EVIL]: [EVIL] } } },
    callHash: EVIL,
    agent: { id: EVIL, class: EVIL, trustLevel: EVIL, operator: EVIL, chain: [EVIL, EVIL] },
    delegator: { id: EVIL, displayName: EVIL, delegationId: EVIL },
    intent: { id: EVIL, text: EVIL, category: EVIL },
    resource: { id: EVIL, type: EVIL, classification: EVIL },
    environment: EVIL,
    risk: { [EVIL]: EVIL },
    reason: EVIL,
    votes: [{ approverId: EVIL, decision: 'deny', at: EVIL }],
    quorum: 1,
    independentApprovers: true,
    expiresAt: EVIL,
    secondsLeft: 60,
    linkToken: EVIL,
    csrfToken: EVIL,
    formAction: EVIL,
    vapidPublicKey: EVIL,
    passkeys: { required: 'policy', registered: [{ id: EVIL, name: EVIL, createdAt: EVIL }], always: true },
  };
}

/** Every start tag in the output: name and attribute names/values (our renderer always double-quotes). */
function startTags(html: string): { name: string; attrs: Record<string, string | true> }[] {
  const tags: { name: string; attrs: Record<string, string | true> }[] = [];
  const tagRe = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'<>/=]+(?:="[^"]*")?)*)\s*\/?>/g;
  const attrRe = /\s+([^\s"'<>/=]+)(?:="([^"]*)")?/g;
  for (const m of html.matchAll(tagRe)) {
    const attrs: Record<string, string | true> = {};
    for (const a of m[2].matchAll(attrRe)) attrs[a[1].toLowerCase()] = a[2] ?? true;
    tags.push({ name: m[1].toLowerCase(), attrs });
  }
  return tags;
}

/** Every `<` that starts a tag-like token must be one of ours, fully parsed by startTags. */
function assertWellFormedTags(html: string): void {
  const all = [...html.matchAll(/<(\/?)([a-zA-Z!][^\s>]*)/g)].filter((m) => m[1] === '' && m[2] !== '!DOCTYPE');
  expect(startTags(html)).toHaveLength(all.length);
}

const ALLOWED_TAGS = new Set([
  'html',
  'head',
  'meta',
  'title',
  'link',
  'script',
  'body',
  'a',
  'header',
  'main',
  'section',
  'div',
  'p',
  'h1',
  'h2',
  'h3',
  'dl',
  'dt',
  'dd',
  'ol',
  'ul',
  'li',
  'code',
  'pre',
  'strong',
  'span',
  'blockquote',
  'time',
  'form',
  'input',
  'label',
  'textarea',
  'button',
  'details',
  'summary',
  'fieldset',
  'legend',
  'select',
  'option',
  'q',
]);

function assertSafeMarkup(html: string): void {
  assertWellFormedTags(html);
  const tags = startTags(html);
  for (const t of tags) {
    expect(ALLOWED_TAGS.has(t.name)).toBe(true);
    for (const name of Object.keys(t.attrs)) {
      expect(name).not.toMatch(/^on/i);
      expect(name).not.toBe('style');
    }
  }
  expect(html).not.toMatch(/\sstyle\s*=/i);
  // Regex over the output: with quoted attribute values blanked out, no tag carries an on*= handler.
  expect(html.replace(/="[^"]*"/g, '=""')).not.toMatch(/<[a-z][^>]*\son[a-z]+\s*=/i);
  const scripts = tags.filter((t) => t.name === 'script');
  // The passkey ceremonies' library first (deferred scripts run in order), then the page's own.
  expect(scripts.map((t) => t.attrs)).toEqual([
    { src: WEBAUTHN_JS_PATH, defer: true },
    { src: PAGE_JS_PATH, defer: true },
  ]);
  expect(html.match(/<script/gi)).toHaveLength(2);
  expect(html).toContain(`<script src="${PAGE_JS_PATH}" defer></script>`);
  const styles = tags.filter((t) => t.name === 'link');
  expect(styles).toEqual([{ name: 'link', attrs: { rel: 'stylesheet', href: PAGE_CSS_PATH } }]);
  expect(html).not.toMatch(/<style/i);
  for (const t of tags) {
    for (const attr of ['src', 'href', 'action']) {
      const v = t.attrs[attr];
      if (typeof v === 'string') expect(v).not.toMatch(/^(https?:)?\/\//i);
    }
  }
  expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
}

function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('escapeHtml', () => {
  it('escapes the HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\`</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
    expect(escapeHtml('plain text 123')).toBe('plain text 123');
  });
});

describe('formatDuration', () => {
  it('is human readable', () => {
    expect(formatDuration(598)).toBe('9 min 58 s');
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(3900)).toBe('1 h 5 min');
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe('2 d 3 h');
    expect(formatDuration(0)).toBe('expired');
    expect(formatDuration(-5)).toBe('expired');
  });
});

describe('renderApprovalPage', () => {
  const html = renderApprovalPage(fullModel());
  const plain = text(html);

  it('is a full HTML5 document with the required head', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html).toContain(`<link rel="stylesheet" href="${PAGE_CSS_PATH}">`);
    expect(html).toMatch(/<main id="main"[^>]*>/);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('uses only same-origin assets, no inline script/style, no handlers', () => {
    assertSafeMarkup(html);
  });

  it('shows the binding message as the h1, or a default', () => {
    expect(html).toMatch(/<h1[^>]*>Refund 120 EUR to customer C-42<\/h1>/);
    expect(renderApprovalPage(fullModel({ bindingMessage: null }))).toMatch(/<h1[^>]*>Approval requested<\/h1>/);
    expect(html.match(/<h1/g)).toHaveLength(1);
  });

  it('has headings in order (h1, then h2s, h3s only under an h2)', () => {
    const levels = [...html.matchAll(/<h([1-6])/g)].map((m) => Number(m[1]));
    expect(levels[0]).toBe(1);
    for (let i = 1; i < levels.length; i++) expect(levels[i] - levels[i - 1]).toBeLessThanOrEqual(1);
    for (const h of [
      'Who is asking',
      'What it wants to do',
      'Why',
      'Resource',
      'Risk signals',
      'Approvals so far',
      'Time left',
      'Your decision',
      'Notifications on this device',
    ]) {
      expect(html).toMatch(new RegExp(`<h2[^>]*>${h}</h2>`));
    }
  });

  it('shows who: agent, chain in order, delegator and delegation', () => {
    for (const s of ['agent:support-bot', 'customer-support', 'medium', 'ops-team', 'Bob Delegator', 'user:bob', 'dlg_789', 'Alice Approver']) {
      expect(plain).toContain(s);
    }
    expect(html).toMatch(
      /<ol class="chain"><li><code>user:bob<\/code><\/li><li><code>agent:orchestrator<\/code><\/li><li><code>agent:support-bot<\/code><\/li><\/ol>/,
    );
  });

  it('shows what: server, tool, pretty-printed arguments and the call hash', () => {
    expect(plain).toContain('billing-mcp');
    expect(plain).toContain('refund.create');
    const pretty = escapeHtml(JSON.stringify(fullModel().toolCall.arguments, null, 2));
    expect(html).toContain(`>${pretty}</pre>`);
    expect(pretty).toContain('\n  &quot;amount&quot;: {\n    &quot;value&quot;: 120');
    expect(html).toContain('<code>b64u_hash_ABCdef123</code>');
  });

  it('shows why: intent and the agent reason', () => {
    for (const s of ['customer-refund', 'Resolve ticket #555', 'task-555', 'Customer was double charged']) expect(plain).toContain(s);
  });

  it('shows the resource, a text classification badge and the environment', () => {
    expect(plain).toContain('customer_account');
    expect(plain).toContain('cust:C-42');
    expect(html).toMatch(/<span class="badge badge--classification[^"]*">confidential<\/span>/);
    expect(html).toMatch(/<span class="badge badge--environment[^"]*">production<\/span>/);
  });

  it('shows risk signals as a definition list of JSON values', () => {
    expect(html).toMatch(/<dl class="facts risk">/);
    expect(html).toContain('<dt>anomalyScore</dt><dd><code>0.82</code></dd>');
    expect(html).toContain('<dt>newDestination</dt><dd><code>true</code></dd>');
    expect(html).toContain('<dt>velocity</dt><dd><code>{&quot;lastHour&quot;:3}</code></dd>');
  });

  it('shows votes and progress toward quorum', () => {
    expect(plain).toContain('user:carol');
    expect(plain).toContain('approved');
    expect(html).toContain('<time datetime="2030-01-01T10:00:00.000Z">');
    expect(plain).toContain('1 of 2 approvals');
  });

  it('shows the time left with a countdown hook', () => {
    expect(html).toMatch(/<span id="time-left" data-expires-at="2030-01-01T10:10:00.000Z"[^>]*>9 min 58 s<\/span>/);
    expect(html).toContain('<time datetime="2030-01-01T10:10:00.000Z">');
  });

  it('shows each approver set with its approvals when several must each reach their quorum, escaped', () => {
    const sets = [
      { approvers: ['group:finance'], quorum: 1, approvals: 1 },
      { approvers: ['group:<security>'], quorum: 2, approvals: 0 },
    ];
    const out = renderApprovalPage(fullModel({ quorum: 3, approverSets: sets }));
    expect(text(out)).toMatch(/group:finance ?: 1 of 1 \(met\)/);
    expect(text(out)).toMatch(/group:<security> ?: 0 of 2/);
    expect(out).not.toContain('<security>');
    assertSafeMarkup(out);
    // One set: the overall count says it all.
    expect(renderApprovalPage(fullModel({ approverSets: [{ approvers: ['user:carol'], quorum: 2, approvals: 1 }] }))).not.toContain('approver-sets');
  });

  it('notes independent approvers only when required', () => {
    expect(plain).toContain('the person the agent acts for and the agent’s operator cannot approve');
    expect(renderApprovalPage(fullModel({ independentApprovers: false }))).not.toContain('independent-note');
  });

  it('has the decision form posting to formAction with the hidden link and csrf', () => {
    expect(html).toContain('<form method="post" action="/approve/areq_123/decision"');
    expect(html).toContain('<input type="hidden" name="link" value="eyJhbGciOiJFUzI1NiJ9.payload.sig">');
    expect(html).toContain('<input type="hidden" name="csrf" value="csrf-token-xyz">');
    expect(html).toContain('<button type="submit" id="approve" class="btn btn--approve" name="decision" value="approve">Approve</button>');
    expect(html).toContain('<button type="submit" id="deny" class="btn btn--deny" name="decision" value="deny">Deny</button>');
    const form = html.slice(html.indexOf('<form'), html.indexOf('</form>'));
    expect(form).toContain('id="reason"');
    expect(form).toContain('id="approve"');
  });

  it("offers a standing approval's terms: the policy's pins ticked and fixed, others to tick, windows up to the maximum, uses up to the cap", () => {
    const page = renderApprovalPage(
      fullModel({
        standing: {
          options: [
            { value: 'call', label: 'This call only' },
            { value: 'window', label: 'For a time, in any session' },
          ],
          pins: [
            { path: 'customerId', text: 'customerId = "C-42"', policy: true },
            { path: 'notify', text: 'notify = true', policy: false },
          ],
          maxSeconds: 1800,
          durations: [300, 900, 1800],
          maxUses: 5,
          who: 'calls by agent:support-bot',
          session: null,
        },
      }),
    );
    assertSafeMarkup(page);
    const inputs = startTags(page).filter((t) => t.name === 'input' && String(t.attrs.name).startsWith('standing'));
    expect(inputs.map((t) => [t.attrs.name, t.attrs.value, t.attrs.checked ?? false, t.attrs.disabled ?? false])).toEqual([
      ['standing', 'call', true, false],
      ['standing', 'window', false, false],
      ['standing_pin', 'customerId', true, true],
      ['standing_pin', 'notify', false, false],
      ['standing_max_uses', '5', false, false],
    ]);
    expect(inputs.at(-1)?.attrs.max).toBe('5');
    expect([...page.matchAll(/<option value="(\d+)"( selected)?>([^<]+)</g)].map((m) => [m[1], !!m[2], m[3]])).toEqual([
      ['300', false, '5 min'],
      ['900', false, '15 min'],
      ['1800', true, '30 min (max)'],
    ]);
    // The terms are shown and posted only once a standing scope is chosen (page.js enables them).
    expect(page).toContain('<details id="standing-terms" class="standing-terms" hidden>');
    expect(page).toContain('<fieldset id="standing-terms-fields" disabled>');
    expect(page).toMatch(/<p id="standing-summary"[^>]*>Only the call above; the agent asks again next time.<\/p>/);
  });

  it('has a required, labelled reason textarea', () => {
    const ta = startTags(html).find((t) => t.name === 'textarea');
    expect(ta?.attrs).toMatchObject({ id: 'reason', name: 'reason', required: true, minlength: '1', maxlength: '2000' });
    expect(html).toContain('<label for="reason">Reason for access (required)</label>');
  });

  it('disables the buttons when already expired at render time', () => {
    const expired = renderApprovalPage(fullModel({ secondsLeft: 0 }));
    expect(expired).toMatch(/id="approve"[^>]* disabled>/);
    expect(expired).toMatch(/id="deny"[^>]* disabled>/);
    expect(expired).toContain('This request has expired');
    expect(html).not.toMatch(/id="approve"[^>]* disabled>/);
  });

  it('has the push section only when a VAPID key is configured', () => {
    const btn = startTags(html).find((t) => t.attrs.id === 'enable-push');
    expect(btn?.name).toBe('button');
    expect(btn?.attrs).toMatchObject({
      type: 'button',
      'data-vapid-public-key': fullModel().vapidPublicKey,
      'data-link': 'eyJhbGciOiJFUzI1NiJ9.payload.sig',
    });
    expect(html).toContain('Enable notifications on this device</button>');
    expect(html).toMatch(/<p id="push-status"[^>]*aria-live="polite"/);
    const noPush = renderApprovalPage(fullModel({ vapidPublicKey: null }));
    expect(noPush).not.toContain('enable-push');
    expect(noPush).not.toContain('push-status');
    expect(noPush).not.toContain('Notifications on this device');
  });

  it('handles empty optional fields and odd JSON without throwing', () => {
    const out = renderApprovalPage(
      fullModel({
        agent: { id: 'a', chain: [] },
        delegator: { id: 'd' },
        intent: {},
        resource: {},
        environment: null,
        risk: { big: BigInt(10), undef: undefined },
        votes: [],
        toolCall: { server: 's', tool: 't', arguments: {} },
      }),
    );
    expect(out).toContain('Not given');
    expect(out).toContain('No votes yet.');
    expect(out).toContain('<dt>big</dt><dd><code>&quot;10&quot;</code></dd>');
    assertSafeMarkup(out);
  });
});

describe('XSS: every untrusted string is escaped', () => {
  const html = renderApprovalPage(evilModel());

  it('never contains a raw payload', () => {
    for (const p of PAYLOADS) expect(html).not.toContain(p);
    expect(html).not.toMatch(/<img|<svg/i);
    expect(html).not.toContain('<script>');
  });

  it('contains the escaped form', () => {
    expect(html).toContain(escapeHtml(SCRIPT_XSS));
    expect(html).toContain(escapeHtml(ATTR_XSS));
    expect(html).toContain(escapeHtml(QUOTE_XSS));
    // Attribute contexts.
    expect(html).toContain(`<input type="hidden" name="link" value="${escapeHtml(EVIL)}">`);
    expect(html).toContain(`<input type="hidden" name="csrf" value="${escapeHtml(EVIL)}">`);
    expect(html).toContain(`<form method="post" action="${escapeHtml(EVIL)}"`);
    expect(html).toContain(`data-link="${escapeHtml(EVIL)}"`);
    expect(html).toContain(`data-vapid-public-key="${escapeHtml(EVIL)}"`);
    expect(html).toContain(`data-expires-at="${escapeHtml(EVIL)}"`);
    // Text contexts: binding message, approver name, reason, risk key, argument keys and values (JSON-escaped, then HTML-escaped).
    expect(html).toContain(`<h1 id="binding-message">${escapeHtml(EVIL)}</h1>`);
    expect(html).toContain(`<strong>${escapeHtml(EVIL)}</strong>`);
    expect(html).toContain(`<p>${escapeHtml(EVIL)}</p></blockquote>`);
    expect(html).toContain(`<dt>${escapeHtml(EVIL)}</dt><dd><code>${escapeHtml(JSON.stringify(EVIL))}</code></dd>`);
    expect(html).toContain(`<pre class="json"`);
    const args = escapeHtml(JSON.stringify(evilModel().toolCall.arguments, null, 2));
    expect(html).toContain(`>${args}</pre>`);
    expect(html).toContain(`<title>Approve or deny: ${escapeHtml(EVIL)} — Countersign</title>`);
  });

  it('keeps the markup structure intact (no injected tags or attributes)', () => {
    assertSafeMarkup(html);
    const tags = startTags(html);
    expect(tags.filter((t) => t.name === 'form')).toHaveLength(1);
    // link, csrf, sign-with-passkey, the assertion, the new passkey's name, "always"; approve, deny, push, add and remove a passkey.
    expect(tags.filter((t) => t.name === 'input')).toHaveLength(6);
    expect(tags.filter((t) => t.name === 'button')).toHaveLength(5);
    expect(html).toContain(`<span class="passkey-name">${escapeHtml(EVIL)}</span>`);
    for (const t of tags) for (const v of Object.values(t.attrs)) if (typeof v === 'string') expect(v).not.toMatch(/[<>"']/);
  });

  it("escapes a standing approval's terms, in text and attributes", () => {
    const page = renderApprovalPage({
      ...evilModel(),
      standing: {
        options: [
          { value: 'call', label: EVIL },
          { value: 'session', label: EVIL },
        ],
        pins: [{ path: EVIL, text: EVIL, policy: false }],
        maxSeconds: 60,
        durations: [60],
        maxUses: null,
        who: EVIL,
        session: EVIL,
      },
    });
    for (const p of PAYLOADS) expect(page).not.toContain(p);
    assertSafeMarkup(page);
    for (const t of startTags(page)) for (const v of Object.values(t.attrs)) if (typeof v === 'string') expect(v).not.toMatch(/[<>"']/);
    expect(page).toContain(`data-who="${escapeHtml(EVIL)}" data-session="${escapeHtml(EVIL)}"`);
    expect(page).toContain(`data-text="${escapeHtml(EVIL)}"`);
  });

  it('escapes the result and error pages too', () => {
    const result = renderDecisionResult({
      authReqId: EVIL,
      bindingMessage: EVIL,
      yourVote: 'approve',
      status: 'pending',
      votes: { approve: 0, deny: 0 },
      quorum: 1,
    });
    const error = renderErrorPage({ status: 400, title: EVIL, message: EVIL });
    for (const out of [result, error]) {
      for (const p of PAYLOADS) expect(out).not.toContain(p);
      expect(out).toContain(escapeHtml(EVIL));
      assertSafeMarkup(out);
    }
  });
});

describe('renderDecisionResult', () => {
  const base: DecisionResultModel = {
    authReqId: 'areq_1',
    bindingMessage: 'Refund 120 EUR',
    yourVote: 'approve',
    status: 'approved',
    votes: { approve: 2, deny: 0 },
    quorum: 2,
  };

  it('says you approved and that the call proceeds', () => {
    const out = renderDecisionResult(base);
    expect(out).toMatch(/<h1[^>]*>You approved<\/h1>/);
    expect(text(out)).toContain('Approved — the agent’s call will proceed');
    expect(text(out)).toContain('2 of 2');
    expect(text(out)).toContain('Refund 120 EUR');
    assertSafeMarkup(out);
  });

  it('counts what every approver set still needs, not the approvals in all', () => {
    // Three finance approvals, security's two still owed: 3 of 3 in all, yet 2 more are needed.
    const approverSets = [
      { approvers: ['group:finance'], quorum: 1, approvals: 1 },
      { approvers: ['group:security'], quorum: 2, approvals: 0 },
    ];
    const out = text(renderDecisionResult({ ...base, status: 'pending', votes: { approve: 3, deny: 0 }, quorum: 3, approverSets }));
    expect(out).toContain('Waiting for 2 more approvals');
    expect(out).toMatch(/group:security ?: 0 of 2/);
  });

  it('says how many approvals are still needed while pending', () => {
    expect(text(renderDecisionResult({ ...base, status: 'pending', votes: { approve: 1, deny: 0 }, quorum: 3 }))).toContain('Waiting for 2 more approvals');
    expect(text(renderDecisionResult({ ...base, status: 'pending', votes: { approve: 1, deny: 0 }, quorum: 2 }))).toContain('Waiting for 1 more approval.');
  });

  it('says you denied and that the request is denied', () => {
    const out = renderDecisionResult({ ...base, yourVote: 'deny', status: 'denied', votes: { approve: 0, deny: 1 } });
    expect(out).toMatch(/<h1[^>]*>You denied<\/h1>/);
    expect(text(out)).toContain('Denied');
    expect(text(out)).toContain('1 denial');
  });

  it('covers expired and cancelled', () => {
    expect(text(renderDecisionResult({ ...base, status: 'expired' }))).toContain('Expired');
    expect(text(renderDecisionResult({ ...base, status: 'cancelled' }))).toContain('Cancelled');
  });
});

describe('renderErrorPage', () => {
  it('shows title, message and that nothing was changed', () => {
    const out = renderErrorPage({ status: 410, title: 'This link has expired', message: 'Ask for a new link.' });
    expect(out).toMatch(/<h1[^>]*>This link has expired<\/h1>/);
    expect(out).toContain('Ask for a new link.');
    expect(out).toContain('Nothing was changed.');
    expect(out).toContain('<title>This link has expired — Countersign</title>');
    assertSafeMarkup(out);
  });
});

describe('assets', () => {
  it('the page links its CSS and script by a hash of their content, so a changed file gets a new URL', () => {
    expect(PAGE_CSS_PATH).toBe(`/approve/assets/page.${createHash('sha256').update(PAGE_CSS).digest('hex').slice(0, 16)}.css`);
    expect(PAGE_JS_PATH).toBe(`/approve/assets/page.${createHash('sha256').update(PAGE_JS).digest('hex').slice(0, 16)}.js`);
    expect(contentHash(PAGE_JS + ' ')).not.toBe(contentHash(PAGE_JS));
  });

  it.each([
    ['PAGE_JS', PAGE_JS],
    ['SERVICE_WORKER_JS', SERVICE_WORKER_JS],
  ])('%s parses as a classic script and avoids eval/innerHTML', (_name, src) => {
    expect(() => new Script(src)).not.toThrow();
    expect(() => new Function(src)).not.toThrow();
    expect(src).not.toMatch(/\beval\s*\(/);
    expect(src).not.toContain('innerHTML');
    expect(src).not.toContain('outerHTML');
    expect(src).not.toContain('insertAdjacentHTML');
    expect(src).not.toContain('document.write');
    expect(src).not.toMatch(/new Function|setTimeout\(\s*['"]/);
    expect(src).not.toMatch(/https?:\/\//);
  });

  it('PAGE_JS does what the page needs', () => {
    for (const s of [
      "'serviceWorker' in navigator",
      "'PushManager' in window",
      "register('/sw.js', { scope: '/' })",
      'userVisibleOnly: true',
      "fetch('/v1/push-subscriptions'",
      "authorization: 'Bearer ' + link",
      'This request has expired',
      'data-expires-at',
      'event.submitter',
      'not supported on this browser',
    ]) {
      expect(PAGE_JS).toContain(s);
    }
  });

  it('SERVICE_WORKER_JS shows notifications, opens only same-origin URLs, never decides', () => {
    for (const s of [
      "addEventListener('push'",
      'event.data.json()',
      'requireInteraction: true',
      "{ action: 'approve', title: 'Approve' }",
      "{ action: 'deny', title: 'Deny' }",
      "addEventListener('notificationclick'",
      'self.location.origin',
      'skipWaiting()',
      'clients.claim()',
    ]) {
      expect(SERVICE_WORKER_JS).toContain(s);
    }
    expect(SERVICE_WORKER_JS).not.toContain('fetch(');
  });

  it('PAGE_CSS uses system fonts only and no external resources', () => {
    expect(PAGE_CSS).toContain('system-ui');
    expect(PAGE_CSS).not.toMatch(/@import|@font-face|url\(/i);
    expect(PAGE_CSS).toMatch(/min-height: 4[4-9]px/);
    expect(PAGE_CSS).toContain(':focus-visible');
    // No font size below 14px (0.875rem).
    for (const m of PAGE_CSS.matchAll(/font-size:\s*([\d.]+)(rem|px|em)/g)) {
      const px = m[2] === 'px' ? Number(m[1]) : Number(m[1]) * 16;
      expect(px).toBeGreaterThanOrEqual(14);
    }
  });
});
