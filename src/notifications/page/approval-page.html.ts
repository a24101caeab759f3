/**
 * Server-rendered approval pages: pure functions from view model to HTML, no Nest, no I/O.
 *
 * Rules (the page is served with a strict CSP: `default-src 'none'; script-src 'self'; style-src 'self'; ...`):
 * - every model string is untrusted and goes through escapeHtml, in text and in attributes;
 * - attributes are always double-quoted (escapeHtml escapes `"`), so a value can never break out;
 * - no inline scripts, no inline `style` attributes, no event-handler attributes, no third-party URLs:
 *   the only assets are the page's CSS and script (same origin, named by their content's hash: page.assets.ts).
 */
import type { AlreadyDecidedModel, ApprovalPageModel, DecisionResultModel, ErrorPageModel } from './approval-page.model';
import { PAGE_CSS_PATH, PAGE_JS_PATH, WEBAUTHN_JS_PATH } from './page.assets';
import { formatWindow, standingCovers } from './standing-choice';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes a string for use in HTML text and in double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"'`]/g, (c) => HTML_ESCAPES[c]);
}

/** Escaped text of any value (null/undefined → empty). */
function esc(v: unknown): string {
  return v === null || v === undefined ? '' : escapeHtml(String(v));
}

/** JSON for display; never throws (BigInt, cycles) and never returns undefined. */
export function toJson(value: unknown, indent?: number): string {
  try {
    const out = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent);
    return out === undefined ? String(value) : out;
  } catch {
    return String(value);
  }
}

/** "9 min 58 s", "1 h 5 min", "2 d 3 h", "45 s", "expired". Mirrored by page.js. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.floor(totalSeconds);
  if (!Number.isFinite(s) || s <= 0) return 'expired';
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${seconds} s`;
  return `${seconds} s`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A CSS-class-safe token from an untrusted value (only used for styling hooks; the text is shown separately). */
function classToken(v: string): string {
  return v
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

const NOT_GIVEN = '<span class="muted">Not given</span>';

/** A row of a definition list; the value is escaped unless `html` is true (already-safe markup). */
function row(label: string, value: string | null | undefined, opts: { html?: boolean; code?: boolean } = {}): string {
  let dd: string;
  if (value === null || value === undefined || value === '') dd = NOT_GIVEN;
  else if (opts.html) dd = value;
  else if (opts.code) dd = `<code>${esc(value)}</code>`;
  else dd = esc(value);
  return `<div class="row"><dt>${escapeHtml(label)}</dt><dd>${dd}</dd></div>`;
}

export function badge(kind: string, value: string): string {
  const token = classToken(value);
  const mod = token ? ` badge--${kind}-${token}` : '';
  return `<span class="badge badge--${kind}${mod}">${esc(value)}</span>`;
}

function shorten(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const argText = (v: unknown) => (typeof v === 'string' ? v : toJson(v));

/** The first arguments of a call on one line, each shortened: what the call does at a glance (the full JSON is one tap away). */
export function keyArguments(args: Record<string, unknown>, max = 4): string {
  const entries = Object.entries(args ?? {});
  if (!entries.length) return '<span class="muted">no arguments</span>';
  const shown = entries.slice(0, max).map(([k, v]) => `<code class="arg">${esc(shorten(k, 32))}: ${esc(shorten(argText(v), 40))}</code>`);
  return shown.join(' ') + (entries.length > max ? ` <span class="muted">+${entries.length - max} more</span>` : '');
}

/** The key arguments as a list, one per line (the approval page's first screen). */
function keyArgumentList(args: Record<string, unknown>, max = 4): string {
  const entries = Object.entries(args ?? {});
  if (!entries.length) return '<span class="muted">no arguments</span>';
  const items = entries
    .slice(0, max)
    .map(([k, v]) => `<li><span class="arg-name">${esc(shorten(k, 32))}</span> <code>${esc(shorten(argText(v), 80))}</code></li>`)
    .join('');
  const more = entries.length > max ? `<li class="muted">+${entries.length - max} more under “Full details”</li>` : '';
  return `<ul class="key-args" id="key-arguments">${items}${more}</ul>`;
}

/** Risk signals worth a place on the first screen, when the gateway or the engine raised them. */
const RISK_AT_A_GLANCE = ['level', 'score', 'external_destination', 'bulk', 'prior_denials', 'prior_step_ups', 'signals'];

/** Classification and environment as badges, then the first risk signals: the risk at a glance. */
export function riskSummary(classification: unknown, environment: string | null, risk: Record<string, unknown>): string {
  const badges = [
    typeof classification === 'string' ? badge('classification', classification) : '',
    environment ? badge('environment', environment) : '',
  ].filter(Boolean);
  // Only the signals that raise the risk, when raised (the engine stores every fact here; all of them are under the details).
  const signals = RISK_AT_A_GLANCE.flatMap((key) => {
    const v = (risk ?? {})[key];
    const name = key.replace(/_/g, ' ');
    if (v === true) return [name];
    if (typeof v === 'number' && v > 0) return [`${name} ${v}`];
    if (typeof v === 'string' && v) return [`${name} ${shorten(v, 24)}`];
    if (Array.isArray(v) && v.length) return [`${name}: ${shorten(v.map(String).join(', '), 40)}`];
    return [];
  }).map((t) => `<span class="signal">${esc(t)}</span>`);
  const all = [...badges, ...signals];
  return all.length ? all.join(' ') : '<span class="muted">none reported</span>';
}

export function layout(title: string, body: string, bodyClass: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<meta name="robots" content="noindex, nofollow">',
    '<meta name="color-scheme" content="light">',
    `<title>${title}</title>`,
    `<link rel="stylesheet" href="${PAGE_CSS_PATH}">`,
    // Deferred scripts run in order: page.js finds SimpleWebAuthnBrowser defined.
    `<script src="${WEBAUTHN_JS_PATH}" defer></script>`,
    `<script src="${PAGE_JS_PATH}" defer></script>`,
    '</head>',
    `<body class="${bodyClass}">`,
    '<a class="skip-link" href="#main">Skip to content</a>',
    '<header class="site-header"><p class="brand">Countersign</p></header>',
    `<main id="main" tabindex="-1">`,
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export function section(id: string, heading: string, content: string): string {
  return `<section class="card" aria-labelledby="${id}-h"><h2 id="${id}-h">${escapeHtml(heading)}</h2>\n${content}\n</section>`;
}

/** The approval page: everything the approver needs to decide, then the decision form. */
export function renderApprovalPage(m: ApprovalPageModel): string {
  const expired = !(m.secondsLeft > 0);
  const heading = m.bindingMessage ? esc(m.bindingMessage) : 'Approval requested';
  const title = m.bindingMessage ? `Approve or deny: ${esc(m.bindingMessage)} — Countersign` : 'Approval requested — Countersign';

  const delegatorShort = m.delegator.displayName ?? m.delegator.id;
  const secondsLeft = Math.max(0, Math.floor(Number.isFinite(m.secondsLeft) ? m.secondsLeft : 0));
  const intro = [
    '<div class="intro intro--tight">',
    '<p class="eyebrow">An AI agent asks for your approval</p>',
    `<h1 id="binding-message">${heading}</h1>`,
    '</div>',
  ].join('\n');

  // The first screen on a phone: what the call does, for whom, the risk and the time left; the rest is under "Full details".
  const summary = [
    '<section class="card summary" id="summary" aria-label="Summary">',
    '<dl class="facts facts--compact">',
    `<div class="row"><dt>Call</dt><dd><code>${esc(m.toolCall.server)}/${esc(m.toolCall.tool)}</code></dd></div>`,
    `<div class="row"><dt>Arguments</dt><dd>${keyArgumentList(m.toolCall.arguments, 3)}</dd></div>`,
    `<div class="row"><dt>For</dt><dd id="summary-for">${esc(delegatorShort)} <span class="muted">by ${esc(m.agent.id)}</span></dd></div>`,
    `<div class="row"><dt>Risk</dt><dd id="summary-risk">${riskSummary(m.resource.classification, m.environment, m.risk)}</dd></div>`,
    `<div class="row"><dt>Time left</dt><dd><span id="time-left" data-expires-at="${esc(m.expiresAt)}" data-seconds-left="${secondsLeft}" class="time-left--inline">${formatDuration(
      secondsLeft,
    )}</span></dd></div>`,
    '</dl>',
    '</section>',
  ].join('\n');

  const chain =
    m.agent.chain.length > 0
      ? `<ol class="chain">${m.agent.chain.map((c) => `<li><code>${esc(c)}</code></li>`).join('')}</ol>`
      : '<p class="muted">No delegation chain given.</p>';
  const delegatorName = m.delegator.displayName
    ? `${esc(m.delegator.displayName)} <span class="muted">(${esc(m.delegator.id)})</span>`
    : `<code>${esc(m.delegator.id)}</code>`;
  const who = section(
    'who',
    'Who is asking',
    [
      '<h3>Agent</h3>',
      '<dl class="facts">',
      row('Agent ID', m.agent.id, { code: true }),
      row('Class', m.agent.class),
      row('Trust level', m.agent.trustLevel),
      row('Operator', m.agent.operator),
      '</dl>',
      '<h3>Delegation chain</h3>',
      chain,
      '<h3>Acting for</h3>',
      '<dl class="facts">',
      row('Person', delegatorName, { html: true }),
      row('Delegation ID', m.delegator.delegationId, { code: true }),
      '</dl>',
    ].join('\n'),
  );

  const what = section(
    'what',
    'What it wants to do',
    [
      '<dl class="facts">',
      row('MCP server', m.toolCall.server, { code: true }),
      row('Tool', m.toolCall.tool, { code: true }),
      '</dl>',
      '<h3 id="arguments-h">Arguments</h3>',
      `<pre class="json" id="arguments" aria-labelledby="arguments-h" tabindex="0">${esc(toJson(m.toolCall.arguments, 2))}</pre>`,
      '<dl class="facts">',
      row('Call hash', m.callHash, { code: true }),
      '</dl>',
    ].join('\n'),
  );

  const why = section(
    'why',
    'Why',
    [
      '<dl class="facts">',
      row('Intent category', m.intent.category),
      row('Intent', m.intent.text),
      row('Task ID', m.intent.id, { code: true }),
      '</dl>',
      '<h3>The agent’s stated reason</h3>',
      m.reason ? `<blockquote class="agent-reason"><p>${esc(m.reason)}</p></blockquote>` : `<p>${NOT_GIVEN}</p>`,
    ].join('\n'),
  );

  const resource = section(
    'resource',
    'Resource',
    [
      '<dl class="facts">',
      row('Type', m.resource.type),
      row('ID', m.resource.id, { code: true }),
      row('Classification', m.resource.classification ? badge('classification', m.resource.classification) : null, {
        html: true,
      }),
      row('Environment', m.environment ? badge('environment', m.environment) : null, { html: true }),
      '</dl>',
    ].join('\n'),
  );

  const riskKeys = Object.keys(m.risk);
  const risk = section(
    'risk',
    'Risk signals',
    riskKeys.length > 0
      ? `<dl class="facts risk">${riskKeys
          .map((k) => `<div class="row"><dt>${esc(k)}</dt><dd><code>${esc(toJson(m.risk[k]))}</code></dd></div>`)
          .join('')}</dl>`
      : '<p class="muted">No risk signals reported.</p>',
  );

  const approvals = m.votes.filter((v) => v.decision === 'approve').length;
  const voteList =
    m.votes.length > 0
      ? `<ul class="votes">${m.votes
          .map(
            (v) =>
              `<li><code>${esc(v.approverId)}</code> <span class="vote vote--${v.decision === 'approve' ? 'approve' : 'deny'}">${
                v.decision === 'approve' ? 'approved' : 'denied'
              }</span> at <time datetime="${esc(v.at)}">${esc(v.at)}</time></li>`,
          )
          .join('')}</ul>`
      : '<p class="muted">No votes yet.</p>';
  const independent = m.independentApprovers
    ? '<p class="notice" id="independent-note"><strong>Independent approval required:</strong> the person the agent acts for and the agent’s operator cannot approve this request.</p>'
    : '';
  const votes = section(
    'votes',
    'Approvals so far',
    [
      `<p class="quorum" id="quorum"><strong>${approvals} of ${m.quorum} ${m.quorum === 1 ? 'approval' : 'approvals'}</strong> so far.</p>`,
      approverSetList(m.approverSets),
      voteList,
      independent,
    ].join('\n'),
  );

  const time = section(
    'time',
    'Time left',
    `<p class="muted">Expires at <time datetime="${esc(m.expiresAt)}">${esc(m.expiresAt)}</time>. If nobody decides in time, the request expires and the agent’s call does not run.</p>`,
  );

  const disabled = expired ? ' disabled' : '';
  const form = [
    '<section class="card decide" aria-labelledby="decide-h">',
    '<h2 id="decide-h" class="visually-hidden">Your decision</h2>',
    `<form method="post" action="${esc(m.formAction)}" id="decision-form" class="decision" data-link="${esc(m.linkToken)}" data-approval-id="${esc(m.authReqId)}" data-passkey-required="${esc(m.passkeys.required ?? '')}">`,
    `<input type="hidden" name="link" value="${esc(m.linkToken)}">`,
    `<input type="hidden" name="csrf" value="${esc(m.csrfToken)}">`,
    '<p id="intent-note" class="notice" hidden></p>',
    '<label for="reason">Reason for access (required)</label>',
    '<textarea id="reason" name="reason" required minlength="1" maxlength="2000" rows="2" aria-describedby="reason-hint" placeholder="Why you approve or deny"></textarea>',
    '<p class="visually-hidden" id="reason-hint">Say why you approve or deny. It is recorded in the audit log.</p>',
    standingFieldset(m.standing),
    passkeySigning(m.passkeys),
    `<p id="expired-note" class="notice notice--warning" role="status" aria-live="polite"${expired ? '' : ' hidden'}>${
      expired ? 'This request has expired' : ''
    }</p>`,
    '<div class="actions">',
    `<button type="submit" id="approve" class="btn btn--approve" name="decision" value="approve"${disabled}>Approve</button>`,
    `<button type="submit" id="deny" class="btn btn--deny" name="decision" value="deny"${disabled}>Deny</button>`,
    '</div>',
    `<p class="signed-in muted">Deciding as <strong>${esc(m.approver.displayName)}</strong> (${esc(m.approver.id)})</p>`,
    '</form>',
    '</section>',
  ].join('\n');

  const batch = m.batch
    ? `<p class="notice" id="batch-offer">${m.batch.count} calls by this agent ${m.batch.scope === 'task' ? 'for this task' : 'in this MCP session'} wait for you. <a id="batch-link" href="${esc(m.batch.url)}">Review all ${m.batch.count} together</a></p>`
    : '';

  const push =
    m.vapidPublicKey !== null
      ? section(
          'push',
          'Notifications on this device',
          [
            '<p>Get future approval requests as notifications on this device. You still decide on this page.</p>',
            `<button type="button" id="enable-push" class="btn btn--secondary" data-vapid-public-key="${esc(
              m.vapidPublicKey,
            )}" data-link="${esc(m.linkToken)}">Enable notifications on this device</button>`,
            '<p id="push-status" class="status" role="status" aria-live="polite"></p>',
          ].join('\n'),
        )
      : '';

  const passkeys = section('passkeys', 'Passkeys', passkeyManagement(m.passkeys, m.linkToken));

  const footer = `<p class="request-id muted">Request ID: <code>${esc(m.authReqId)}</code></p>`;

  const more = [
    '<details class="more" id="more">',
    '<summary>Full details: every argument, the agent, its reason, risk signals, votes</summary>',
    [who, what, why, resource, risk, votes, time].join('\n'),
    '</details>',
  ].join('\n');

  return layout(title, [intro, summary, form, batch, more, passkeys, push, footer].filter(Boolean).join('\n'), 'page-approval');
}

function statusText(m: Pick<DecisionResultModel, 'status' | 'approverSets' | 'quorum' | 'votes'>): string {
  switch (m.status) {
    case 'approved':
      return 'Approved — the agent’s call will proceed.';
    case 'denied':
      return 'Denied — the agent’s call will not run.';
    case 'expired':
      return 'Expired — no decision was reached in time; the agent’s call will not run.';
    case 'cancelled':
      return 'Cancelled — the request was withdrawn; the agent’s call will not run.';
    case 'pending': {
      const remaining = m.approverSets?.length
        ? m.approverSets.reduce((n, s) => n + Math.max(s.quorum - s.approvals, 0), 0)
        : Math.max(m.quorum - m.votes.approve, 0);
      return remaining > 0 ? `Waiting for ${plural(remaining, 'more approval', 'more approvals')}.` : 'Waiting for the decision to be recorded.';
    }
    default:
      return 'Unknown status.';
  }
}

/**
 * With several approver sets (one per approval obligation), each must reach its own quorum and a
 * person counts in one set only: show where each set stands. One set says nothing the count doesn't.
 */
function approverSetList(sets: ApprovalPageModel['approverSets']): string {
  if (!sets || sets.length < 2) return '';
  const items = sets
    .map(
      (s) =>
        `<li>${s.approvers.map((a) => `<code>${esc(a)}</code>`).join(', ')}: <strong>${s.approvals} of ${s.quorum}</strong>${
          s.approvals >= s.quorum ? ' (met)' : ''
        }</li>`,
    )
    .join('');
  return `<p class="muted">Every one of these approver groups must reach its count; each person counts in one group only.</p><ul class="approver-sets" id="approver-sets">${items}</ul>`;
}

/** In the form: whether (and why) the decision is signed with a passkey; page.js fills the hidden assertion. */
function passkeySigning(p: ApprovalPageModel['passkeys']): string {
  const why =
    p.required === 'policy'
      ? '<p id="passkey-required" class="notice">This request must be signed with your passkey: the policy asks for proof that you decided.</p>'
      : p.required === 'approver'
        ? '<p id="passkey-required" class="notice">You chose to always sign your decisions with your passkey.</p>'
        : '';
  const choice = p.registered.length
    ? `<div class="standing-option"><input type="checkbox" id="sign-with-passkey"${p.required || p.always ? ' checked' : ''}${p.required ? ' disabled' : ''}><label for="sign-with-passkey">Sign my decision with my passkey</label></div>`
    : p.required
      ? '<p id="passkey-missing" class="notice notice--warning">Add a passkey on this device below, then decide.</p>'
      : '';
  return [
    why,
    choice,
    '<input type="hidden" name="passkey" id="passkey-assertion" value="">',
    '<p id="passkey-sign-status" class="status" role="status" aria-live="polite"></p>',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The approver's passkeys: add one on this device, remove one, and "always use my passkey". */
function passkeyManagement(p: ApprovalPageModel['passkeys'], linkToken: string): string {
  const items = p.registered
    .map(
      (k) =>
        `<li id="passkey-${esc(k.id)}"><span class="passkey-name">${esc(k.name ?? 'Passkey')}</span> <span class="muted">added ${esc(k.createdAt.slice(0, 10))}</span> ` +
        `<button type="button" class="btn btn--secondary passkey-remove" data-passkey-id="${esc(k.id)}">Remove</button></li>`,
    )
    .join('\n');
  return [
    '<p>A passkey proves that you, on your own device, made the decision: your decision and reason are signed with it.</p>',
    `<ul id="passkey-list" class="passkey-list">${items}</ul>`,
    p.registered.length ? '' : '<p id="passkey-none" class="muted">You have no passkey yet.</p>',
    '<label for="passkey-name">Name for a new passkey (optional)</label>',
    '<input type="text" id="passkey-name" maxlength="100" autocomplete="off">',
    `<button type="button" id="register-passkey" class="btn btn--secondary" data-link="${esc(linkToken)}">Add a passkey on this device</button>`,
    `<div class="standing-option"><input type="checkbox" id="passkey-always"${p.always ? ' checked' : ''}${p.registered.length ? '' : ' disabled'}><label for="passkey-always">Always sign my decisions with my passkey</label></div>`,
    '<p id="passkey-status" class="status" role="status" aria-live="polite"></p>',
  ]
    .filter(Boolean)
    .join('\n');
}

/**
 * If you approve, how far the approval goes: the scopes the policy offers and, for a standing one,
 * the arguments later calls must repeat (the policy's always, ticked and fixed; the approver may add
 * more), how long (at most the policy's maximum) and how many calls. The summary says exactly what
 * the chosen terms let through; page.js keeps it live (standingCovers) and shows the terms only for
 * a standing scope.
 */
function standingFieldset(c: ApprovalPageModel['standing']): string {
  if (!c) return '';
  const last = c.durations.length - 1;
  const pins = c.pins
    .map((p, i) =>
      [
        `<span class="pin"><input type="checkbox" class="standing-pin" name="standing_pin" id="standing-pin-${i}" value="${esc(p.path)}" data-text="${esc(p.text)}"`,
        `${p.policy ? ' checked disabled' : ''}>`,
        `<label for="standing-pin-${i}"><code>${esc(p.text)}</code>${p.policy ? ' <span class="muted">(policy)</span>' : ''}</label></span>`,
      ].join(''),
    )
    .join('');
  const durations = c.durations
    .map((d, i) => `<option value="${d}"${i === last ? ' selected' : ''}>${esc(formatWindow(d))}${i === last ? ' (max)' : ''}</option>`)
    .join('');
  const uses = c.maxUses === null ? ' placeholder="no limit"' : ` max="${c.maxUses}" value="${c.maxUses}"`;
  return [
    `<fieldset id="standing" class="standing" data-who="${esc(c.who)}" data-session="${esc(c.session ?? '')}" data-max-uses="${c.maxUses ?? ''}">`,
    '<legend>If you approve, the approval covers</legend>',
    '<div class="standing-scopes">',
    ...c.options.map(
      (o, i) =>
        `<div class="standing-option"><input type="radio" name="standing" id="standing-${esc(o.value)}" value="${esc(o.value)}" aria-describedby="standing-summary"${
          i === 0 ? ' checked' : ''
        }><label for="standing-${esc(o.value)}">${esc(o.label)}</label></div>`,
    ),
    '</div>',
    // Shown, and its fields posted, only for a standing scope (page.js); folded, the policy's terms apply.
    '<details id="standing-terms" class="standing-terms" hidden>',
    '<summary>Narrow it: arguments, time, calls</summary>',
    '<fieldset id="standing-terms-fields" disabled>',
    '<legend class="visually-hidden">Terms of the standing approval</legend>',
    c.pins.length
      ? `<div class="standing-pins" role="group" aria-labelledby="standing-pins-label"><span class="terms-label" id="standing-pins-label">Only with</span>${pins}</div>`
      : '',
    '<div class="terms-row">',
    `<label for="standing-expires-in">For</label><select id="standing-expires-in" name="standing_expires_in">${durations}</select>`,
    `<label for="standing-max-uses">Calls</label><input type="number" id="standing-max-uses" name="standing_max_uses" min="1" step="1" inputmode="numeric"${uses}>`,
    '</div>',
    '</fieldset>',
    '</details>',
    `<p id="standing-summary" class="standing-summary" role="status" aria-live="polite">${esc(
      standingCovers(c, { scope: 'call', pins: [], expiresIn: c.maxSeconds, maxUses: c.maxUses }),
    )}</p>`,
    '</fieldset>',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The page shown after a vote. */
export function renderDecisionResult(m: DecisionResultModel): string {
  const approved = m.yourVote === 'approve';
  const heading = approved ? 'You approved' : 'You denied';
  const body = [
    '<div class="intro">',
    `<h1 id="result" class="result result--${approved ? 'approve' : 'deny'}">${heading}</h1>`,
    m.bindingMessage ? `<p class="binding">${esc(m.bindingMessage)}</p>` : '',
    '</div>',
    section(
      'status',
      'Status of the request',
      [
        `<p class="status-line status--${m.status}" id="request-status">${escapeHtml(statusText(m))}</p>`,
        '<dl class="facts">',
        row('Approvals', `${m.votes.approve} of ${m.quorum}`),
        '</dl>',
        approverSetList(m.approverSets),
        '<dl class="facts">',
        row('Denials', String(m.votes.deny)),
        '</dl>',
        `<p class="muted">Votes so far: ${plural(m.votes.approve, 'approval', 'approvals')}, ${plural(m.votes.deny, 'denial', 'denials')}. ${plural(
          m.quorum,
          'approval is',
          'approvals are',
        )} needed.</p>`,
      ].join('\n'),
    ),
    m.standing ? `<p id="standing-granted" class="notice">Your approval stands: ${esc(m.standing)}</p>` : '',
    m.standingPageUrl ? `<p><a id="standing-manage" href="${esc(m.standingPageUrl)}">See and revoke your standing approvals</a></p>` : '',
    '<p>You can close this page.</p>',
    `<p class="request-id muted">Request ID: <code>${esc(m.authReqId)}</code></p>`,
  ]
    .filter(Boolean)
    .join('\n');
  return layout(`${heading} — Countersign`, body, 'page-result');
}

/** The link opened again after its approver voted: their vote, the request's status, and once settled who decided what and why. */
export function renderAlreadyDecided(m: AlreadyDecidedModel): string {
  const approved = m.yourVote.decision === 'approve';
  const heading = approved ? 'You approved this request' : 'You denied this request';
  const decidedBy = m.decidedBy
    ? section(
        'decided-by',
        'Who decided',
        `<ul class="votes" id="decided-by-list">${m.decidedBy
          .map(
            (v) =>
              `<li><strong>${esc(v.displayName)}</strong> <code>${esc(v.approverId)}</code> <span class="vote vote--${classToken(v.decision)}">${
                v.decision === 'approve' ? 'approved' : 'denied'
              }</span> at <time datetime="${esc(v.at)}">${esc(v.at)}</time>: <q>${esc(v.reason)}</q></li>`,
          )
          .join('')}</ul>`,
      )
    : '';
  const body = [
    '<div class="intro">',
    '<p class="eyebrow">This link has been used</p>',
    `<h1 id="result" class="result result--${approved ? 'approve' : 'deny'}">${heading}</h1>`,
    m.bindingMessage ? `<p class="binding">${esc(m.bindingMessage)}</p>` : '',
    '</div>',
    section(
      'your-vote',
      'Your decision',
      [
        '<dl class="facts">',
        row('Decision', approved ? 'Approve' : 'Deny'),
        row('Your reason', m.yourVote.reason),
        row('Recorded at', m.yourVote.at),
        '</dl>',
        '<p class="muted">Each link decides once; your decision cannot be changed from here.</p>',
      ].join('\n'),
    ),
    section(
      'status',
      'Status of the request',
      [
        `<p class="status-line status--${classToken(m.status)}" id="request-status">${escapeHtml(statusText(m))}</p>`,
        '<dl class="facts">',
        row('Approvals', `${m.votes.approve} of ${m.quorum}`),
        row('Denials', String(m.votes.deny)),
        '</dl>',
        approverSetList(m.approverSets),
      ].join('\n'),
    ),
    decidedBy,
    `<p class="request-id muted">Request ID: <code>${esc(m.authReqId)}</code></p>`,
  ]
    .filter(Boolean)
    .join('\n');
  return layout(`${heading} — Countersign`, body, 'page-result');
}

/** A clear error page; the request was not changed. */
export function renderErrorPage(m: ErrorPageModel): string {
  const body = [
    '<div class="intro">',
    `<p class="eyebrow">Error ${esc(m.status)}</p>`,
    `<h1 id="error-title">${esc(m.title)}</h1>`,
    '</div>',
    '<section class="card">',
    `<p id="error-message">${esc(m.message)}</p>`,
    '<p><strong>Nothing was changed.</strong></p>',
    '</section>',
  ].join('\n');
  return layout(`${esc(m.title)} — Countersign`, body, 'page-error');
}
