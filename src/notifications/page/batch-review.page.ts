/**
 * Batch review as a page: one approver's pending calls from one agent for one task (or MCP
 * session), every call's arguments in full, decided all alike with one reason or each on its own.
 * Reached through a batch link (the approval page offers one when several such calls wait); the
 * form is bound to that link by a signed form token. Each decision is one vote through
 * ReviewBatch, which goes through the lifecycle's DecideApproval request by request.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BatchItem, BatchView, BatchVotesResult, batchVotesSchema, ReviewBatch } from '../../approvals/batch/review-batch.usecase';
import { Passkeys } from '../../approvals/passkeys/passkeys.service';
import { ApproverLinkVerifier } from '../../common/auth/approver-link.verifier';
import { ApproverBatchPrincipal } from '../../common/auth/auth.decorators';
import { ExpiredCredential } from '../../common/errors/token-errors';
import { ProtocolError, RateLimited } from '../../common/errors/protocol-errors';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { approverBatchBucket } from '../../common/rate-limit/rate-limit';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { badge, escapeHtml, formatDuration, keyArguments, layout, riskSummary, section, toJson } from './approval-page.html';
import type { PageOutcome } from './approval-page.service';

const FORM_TYP = 'countersign-batch-form+jwt';
const FORM_AUDIENCE = 'countersign:batch-form';
const FORM_TTL_SECONDS = 30 * 60;

export interface BatchPageModel {
  view: BatchView;
  linkToken: string;
  csrfToken: string;
  /** Seconds until the first of the calls expires, at render time. */
  secondsLeft: number;
  firstExpiry: string | null;
  /** How many passkeys the approver has (to sign with, when a call needs it or they always sign). */
  passkeys: number;
}

export interface BatchResultModel {
  result: BatchVotesResult;
  /** What each decided call was, by id (the page's list when it was posted). */
  labels: Record<string, string>;
}

/** The form as posted: fixed fields, and per call `decision.<id>` / `reason.<id>`. */
export type BatchForm = Record<string, string | string[] | undefined>;

const failure = (status: number, title: string, message: string) => ({ ok: false as const, error: { status, title, message } });

@Injectable()
export class BatchReviewPage {
  constructor(
    private readonly links: ApproverLinkVerifier,
    private readonly keys: SigningKeys,
    private readonly limits: RateLimiter,
    private readonly batch: ReviewBatch,
    private readonly passkeys: Passkeys,
  ) {}

  async view(linkToken: string | undefined): Promise<PageOutcome<BatchPageModel>> {
    const opened = await this.open(linkToken);
    if (!opened.ok) return opened;
    const { approver } = opened;
    let view: BatchView;
    try {
      view = await this.batch.list(approver);
    } catch (e) {
      if (e instanceof ProtocolError) return failure(e.status, 'You cannot decide these requests', e.description);
      throw e;
    }
    const csrfToken = await this.keys.sign(
      {},
      {
        typ: FORM_TYP,
        audience: FORM_AUDIENCE,
        subject: approver.linkId,
        expiresAt: new Date((Math.ceil(Date.now() / 1000) + FORM_TTL_SECONDS) * 1000),
        jti: randomUUID(),
      },
    );
    const { passkeys } = await this.passkeys.list(approver);
    const expiries = view.items.map((i) => Date.parse(i.expires_at));
    const first = expiries.length ? Math.min(...expiries) : null;
    return {
      ok: true,
      model: {
        view,
        linkToken: linkToken!,
        csrfToken,
        secondsLeft: first === null ? 0 : Math.max(0, Math.floor((first - Date.now()) / 1000)),
        firstExpiry: first === null ? null : new Date(first).toISOString(),
        passkeys: passkeys.length,
      },
    };
  }

  async submit(form: BatchForm): Promise<PageOutcome<BatchResultModel>> {
    const one = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    const opened = await this.open(one('link'));
    if (!opened.ok) return opened;
    try {
      const { payload } = await this.keys.verify(one('csrf') ?? '', { typ: FORM_TYP, audience: FORM_AUDIENCE });
      if (payload.sub !== opened.approver.linkId) throw new Error('form token is for another link');
    } catch {
      return failure(403, 'This form has expired', 'The form could not be verified (it is too old or was not issued for this link). Open the link again.');
    }
    const ids = [form.ids ?? []].flat().filter((v): v is string => typeof v === 'string');
    const all = one('all');
    const reason = one('reason')?.trim() || undefined;
    // The page's one assertion over the whole batch (page.js signs exactly what it posts).
    let passkey: unknown;
    try {
      passkey = one('passkey') ? JSON.parse(one('passkey')!) : undefined;
    } catch {
      return failure(400, 'Nothing was recorded', 'passkey: the passkey signature is damaged. Go back and sign again.');
    }
    let input: unknown;
    if (all === 'approve' || all === 'deny') input = { all, auth_req_ids: ids, reason, passkey };
    else if (all === 'each') {
      const decisions = ids.flatMap((id) => {
        const decision = one(`decision.${id}`);
        if (decision !== 'approve' && decision !== 'deny') return [];
        const own = one(`reason.${id}`)?.trim();
        return [{ auth_req_id: id, decision, ...(own ? { reason: own } : {}) }];
      });
      if (!decisions.length)
        return failure(
          400,
          'Nothing was recorded',
          'decisions: choose Approve or Deny for at least one call, or use Approve all / Deny all. Go back and try again.',
        );
      input = { decisions, reason, passkey };
    } else return failure(400, 'Nothing was recorded', 'all: press Approve all, Deny all or Submit these decisions. Go back and try again.');
    const parsed = batchVotesSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return failure(400, 'Nothing was recorded', `${issue.path.map(String).join('.') || 'form'}: ${issue.message}. Go back, fill it in and submit again.`);
    }
    let result: BatchVotesResult;
    try {
      result = await this.batch.vote(opened.approver, parsed.data);
    } catch (e) {
      // A refused batch signature: no vote was recorded.
      if (e instanceof ProtocolError) return failure(e.status, 'Nothing was recorded', `${e.description} Go back and sign again.`);
      throw e;
    }
    const labels: Record<string, string> = {};
    for (const id of ids) labels[id] = one(`label.${id}`) ?? id;
    return { ok: true, model: { result, labels } };
  }

  private async open(token: string | undefined) {
    let approver: ApproverBatchPrincipal;
    try {
      if (!token) throw new Error('no link');
      approver = await this.links.verifyBatchToken(token);
    } catch (e) {
      return e instanceof ExpiredCredential
        ? failure(410, 'This link has expired', 'Batch links last 15 minutes. Open one of the requests from your notification again.')
        : failure(401, 'This link is not valid', 'The link is damaged or was not issued by this service.');
    }
    try {
      await this.limits.consume('approver_link', approverBatchBucket(approver));
    } catch (e) {
      if (!(e instanceof RateLimited)) throw e;
      return {
        ok: false as const,
        error: { status: 429, title: 'Too many tries', message: `Wait ${e.retryAfterSeconds} s and open it again.`, retryAfterSeconds: e.retryAfterSeconds },
      };
    }
    return { ok: true as const, approver };
  }
}

const esc = (v: unknown) => escapeHtml(String(v ?? ''));

function labelOf(i: BatchItem): string {
  return i.binding_message ?? `${i.tool_call.server}/${i.tool_call.tool}`;
}

/** The first arguments as plain text, for telling calls apart in the result list. */
function argsText(args: Record<string, unknown>): string {
  const text = Object.entries(args ?? {})
    .slice(0, 2)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function forWhom(i: BatchItem): string {
  return i.delegator_name ? `${i.delegator_name} (${i.delegator_id})` : i.delegator_id;
}

/** One call: what it does, every argument, and its own choice. */
function item(i: BatchItem, n: number): string {
  const id = esc(i.auth_req_id);
  const choice = (value: string, label: string, checked = false) =>
    `<label class="choice choice--${value}"><input type="radio" name="decision.${id}" value="${value}"${checked ? ' checked' : ''}> ${label}</label>`;
  return [
    `<section class="card batch-item" id="item-${id}" aria-labelledby="item-${id}-h">`,
    `<h2 id="item-${id}-h"><span class="muted">${n}.</span> ${esc(labelOf(i))}</h2>`,
    `<input type="hidden" name="ids" value="${id}">`,
    `<input type="hidden" name="label.${id}" value="${esc(`${labelOf(i)} (${argsText(i.tool_call.arguments)})`)}">`,
    '<dl class="facts facts--compact">',
    `<div class="row"><dt>Call</dt><dd><code>${esc(i.tool_call.server)}/${esc(i.tool_call.tool)}</code></dd></div>`,
    `<div class="row"><dt>For</dt><dd>${esc(forWhom(i))}</dd></div>`,
    `<div class="row"><dt>Risk</dt><dd>${riskSummary(i.resource.classification, i.environment, i.risk)}</dd></div>`,
    `<div class="row"><dt>Expires</dt><dd><time datetime="${esc(i.expires_at)}">${esc(formatDuration((Date.parse(i.expires_at) - Date.now()) / 1000))}</time></dd></div>`,
    '</dl>',
    `<h3 id="item-${id}-args-h">Arguments</h3>`,
    `<pre class="json" id="item-${id}-args" aria-labelledby="item-${id}-args-h" tabindex="0">${esc(toJson(i.tool_call.arguments, 2))}</pre>`,
    i.reason ? `<p class="muted">The agent says: <q>${esc(i.reason)}</q></p>` : '',
    `<fieldset class="choices"><legend>This call</legend>${choice('approve', 'Approve')}${choice('deny', 'Deny')}${choice('later', 'Decide later', true)}</fieldset>`,
    `<details class="own-reason"><summary>A reason for this call only</summary><label for="reason-${id}">Reason for this call</label>`,
    `<textarea id="reason-${id}" name="reason.${id}" maxlength="2000" rows="2"></textarea></details>`,
    '</section>',
  ]
    .filter(Boolean)
    .join('\n');
}

export function renderBatchPage(m: BatchPageModel): string {
  const { view } = m;
  const n = view.items.length;
  const task = view.task_id !== undefined ? `task ${view.task_id}` : `MCP session ${view.mcp_session_id}`;
  if (!n) {
    const body = [
      '<div class="intro">',
      `<h1 id="batch-title">Nothing waiting</h1>`,
      `<p id="batch-none">No calls by ${esc(view.agent_id)} for ${esc(task)} are waiting for you.</p>`,
      '</div>',
    ].join('\n');
    return layout('Nothing waiting — Countersign', body, 'page-batch');
  }
  const people = [...new Set(view.items.map(forWhom))];
  const required = view.items.some((i) => i.passkey_required);
  const summary = view.items
    .slice(0, 3)
    .map((i) => `<li><span class="line">${esc(labelOf(i))}</span><span class="line muted">${keyArguments(i.tool_call.arguments, 3)}</span></li>`)
    .join('');
  const more = n > 3 ? `<li class="muted">and ${n - 3} more below</li>` : '';
  const classifications = [...new Set(view.items.map((i) => i.resource.classification).filter((c): c is string => typeof c === 'string'))];
  const environments = [...new Set(view.items.map((i) => i.environment).filter((e): e is string => !!e))];
  const risk =
    [...classifications.map((c) => badge('classification', c)), ...environments.map((e) => badge('environment', e))].join(' ') ||
    '<span class="muted">Not given</span>';
  const body = [
    '<div class="intro intro--tight">',
    `<h1 id="batch-title">${n} ${n === 1 ? 'call' : 'calls'} by ${esc(view.agent_id)} wait for you</h1>`,
    `<p class="scope muted" id="batch-scope">Same ${esc(task)}</p>`,
    '</div>',
    `<form method="post" action="/approve/batch" id="decision-form" class="decision" data-batch="1" data-link="${esc(m.linkToken)}" data-passkey-required="${required ? '1' : ''}">`,
    `<input type="hidden" name="link" value="${esc(m.linkToken)}">`,
    `<input type="hidden" name="csrf" value="${esc(m.csrfToken)}">`,
    '<section class="card summary" id="summary" aria-label="Summary">',
    `<ol class="batch-summary" id="batch-summary">${summary}${more}</ol>`,
    '<dl class="facts facts--compact">',
    `<div class="row"><dt>For</dt><dd id="batch-for">${esc(people.join(', '))}</dd></div>`,
    `<div class="row"><dt>Risk</dt><dd>${risk}</dd></div>`,
    `<div class="row"><dt>Time left</dt><dd><span id="time-left" class="time-left--inline" data-expires-at="${esc(m.firstExpiry ?? '')}" data-seconds-left="${m.secondsLeft}">${formatDuration(m.secondsLeft)}</span> <span class="muted">(first to expire)</span></dd></div>`,
    '</dl>',
    '</section>',
    '<section class="card decide" aria-labelledby="decide-h">',
    '<h2 id="decide-h" class="visually-hidden">Your decision</h2>',
    '<label for="reason">Reason for access (required)</label>',
    '<textarea id="reason" name="reason" required minlength="1" maxlength="2000" rows="2" placeholder="One reason for every call you decide here"></textarea>',
    `<p id="expired-note" class="notice notice--warning" role="status" aria-live="polite" hidden></p>`,
    passkeySigning(required, m.passkeys),
    '<div class="actions">',
    `<button type="submit" id="approve" class="btn btn--approve" name="all" value="approve">Approve all ${n}</button>`,
    `<button type="submit" id="deny" class="btn btn--deny" name="all" value="deny">Deny all ${n}</button>`,
    '</div>',
    `<p class="hint">Or decide each call below, then <a href="#submit-each">submit your choices</a>. Each decision is one vote on one call, with its own audit record.</p>`,
    '</section>',
    ...view.items.map((i, k) => item(i, k + 1)),
    '<div class="actions actions--one">',
    '<button type="submit" id="submit-each" class="btn btn--secondary" name="all" value="each">Submit these decisions</button>',
    '</div>',
    '</form>',
    `<p class="request-id muted">Deciding as <code>${esc(view.approver_id)}</code>.</p>`,
  ].join('\n');
  return layout(`Decide ${n} calls by ${esc(view.agent_id)} — Countersign`, body, 'page-batch');
}

/** Whether the batch is signed with a passkey (one assertion over every decision); page.js fills the hidden assertion. */
function passkeySigning(required: boolean, registered: number): string {
  const note = required
    ? '<p id="passkey-required" class="notice">Your decisions here must be signed with your passkey: one confirmation signs every call you decide.</p>'
    : '';
  const choice = registered
    ? `<div class="standing-option"><input type="checkbox" id="sign-with-passkey"${required ? ' checked disabled' : ''}><label for="sign-with-passkey">Sign my decisions with my passkey</label></div>`
    : required
      ? '<p id="passkey-missing" class="notice notice--warning">Add a passkey on one of these requests\' approval pages, then decide here.</p>'
      : '';
  return [
    note,
    choice,
    '<input type="hidden" name="passkey" id="passkey-assertion" value="">',
    '<p id="passkey-sign-status" class="status" role="status" aria-live="polite"></p>',
  ]
    .filter(Boolean)
    .join('\n');
}

const OUTCOME: Record<string, string> = {
  approved: 'Approved — the call will proceed.',
  denied: 'Denied — the call will not run.',
  pending: 'Your vote counts; more approvals are needed.',
};

export function renderBatchResult(m: BatchResultModel): string {
  const { result } = m;
  const rows = result.results
    .map((r) => {
      const label = esc(m.labels[r.auth_req_id] ?? r.auth_req_id);
      if (r.outcome === 'recorded') {
        return `<li class="batch-result batch-result--recorded" id="result-${esc(r.auth_req_id)}"><strong>${label}</strong>: you ${r.your_vote === 'approve' ? 'approved' : 'denied'}. ${esc(OUTCOME[r.status] ?? r.status)}</li>`;
      }
      return `<li class="batch-result batch-result--refused" id="result-${esc(r.auth_req_id)}"><strong>${label}</strong>: not recorded (${esc(r.error_description)}). Nothing changed for it.</li>`;
    })
    .join('');
  const body = [
    '<div class="intro">',
    `<h1 id="result">Recorded ${result.recorded} of ${result.results.length} ${result.results.length === 1 ? 'decision' : 'decisions'}</h1>`,
    '</div>',
    section('batch-results', 'Each call', `<ul class="votes" id="batch-results-list">${rows}</ul>`),
    '<p>You can close this page.</p>',
  ].join('\n');
  return layout(`Recorded ${result.recorded} decisions — Countersign`, body, 'page-result');
}
