/**
 * The approver's own standing approvals as a page: what each lets through, with a Revoke button.
 * Reached with any approver link of theirs (the link is the credential, as on the approval page);
 * revoking posts a form bound to that link by a signed form token.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { StandingApprovals } from '../../approvals/standing/standing-approvals.service';
import { ApproverLinkVerifier } from '../../common/auth/approver-link.verifier';
import { ApproverPrincipal } from '../../common/auth/auth.decorators';
import { NotFound, ProtocolError, RateLimited } from '../../common/errors/protocol-errors';
import { SigningKeys } from '../../common/keys/signing-keys.service';
import { approverLinkBucket } from '../../common/rate-limit/rate-limit';
import { RateLimiter } from '../../common/rate-limit/rate-limiter.service';
import { escapeHtml, layout, section } from './approval-page.html';
import type { PageOutcome } from './approval-page.service';

const FORM_TYP = 'countersign-standing-form+jwt';
const FORM_AUDIENCE = 'countersign:standing-form';
const FORM_TTL_SECONDS = 30 * 60;
export const STANDING_PAGE_PATH = '/approve/standing';

/** A standing approval as approvals' service lists it. */
type StandingView = Awaited<ReturnType<StandingApprovals['list']>>[number];
export interface StandingPageModel {
  approverId: string;
  items: StandingView[];
  linkToken: string;
  csrfToken: string;
  /** Said at the top after a revoke. */
  notice?: string;
}

const failure = (status: number, title: string, message: string) => ({ ok: false as const, error: { status, title, message } });

@Injectable()
export class StandingApprovalsPage {
  constructor(
    private readonly links: ApproverLinkVerifier,
    private readonly keys: SigningKeys,
    private readonly limits: RateLimiter,
    private readonly standing: StandingApprovals,
  ) {}

  async view(linkToken: string | undefined, notice?: string): Promise<PageOutcome<StandingPageModel>> {
    const opened = await this.open(linkToken);
    if (!opened.ok) return opened;
    return { ok: true, model: await this.model(opened.approver, linkToken!, notice) };
  }

  async revoke(form: { link?: string; csrf?: string; id: string }): Promise<PageOutcome<StandingPageModel>> {
    const opened = await this.open(form.link);
    if (!opened.ok) return opened;
    try {
      const { payload } = await this.keys.verify(form.csrf ?? '', { typ: FORM_TYP, audience: FORM_AUDIENCE });
      if (payload.sub !== opened.approver.linkId) throw new Error('form token is for another link');
    } catch {
      return failure(403, 'This form has expired', 'The form could not be verified (it is too old or was not issued for this link). Open the page again.');
    }
    const { approver } = opened;
    try {
      await this.standing.revoke(approver.tenantId, form.id, `approver:${approver.approverId}`, approver.approverId);
    } catch (e) {
      if (e instanceof NotFound) return failure(404, 'Nothing was revoked', 'You granted no standing approval with this id.');
      throw e;
    }
    return { ok: true, model: await this.model(approver, form.link!, 'Revoked: later calls need a new approval.') };
  }

  private async model(approver: ApproverPrincipal, linkToken: string, notice?: string): Promise<StandingPageModel> {
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
    const items = await this.standing.list(approver.tenantId, { grantedBy: approver.approverId });
    return { approverId: approver.approverId, items, linkToken, csrfToken, ...(notice ? { notice } : {}) };
  }

  private async open(token: string | undefined) {
    let approver: ApproverPrincipal;
    try {
      if (!token) throw new Error('no link');
      approver = await this.links.verifyToken(token);
    } catch (e) {
      const expired = e instanceof ProtocolError && e.message.endsWith('the token has expired');
      return expired
        ? failure(410, 'This link has expired', 'Open the page from a newer notification.')
        : failure(401, 'This link is not valid', 'The link is damaged or was not issued by this service.');
    }
    try {
      await this.limits.consume('approver_link', approverLinkBucket(approver));
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

/** One standing approval: exactly what it lets through, how much is left, and its Revoke form. */
function item(s: StandingView, m: StandingPageModel): string {
  const pinned = Object.entries(s.pinned);
  const args = pinned.length ? pinned.map(([p, v]) => (v === null ? `no ${p}` : `${p} = ${JSON.stringify(v)}`)).join(', ') : 'any arguments';
  const facts: [string, string][] = [
    ['Agent', s.agent_id],
    ['For', s.delegator_id],
    ['Tool', `${s.server}/${s.tool}`],
    ['Resource', s.resource_id ?? 'any'],
    ['Arguments', args],
    ['Scope', s.scope === 'session' ? `MCP session ${s.mcp_session_id}` : 'any session (time window)'],
    ['Used', s.max_uses === null ? `${s.uses} times (no limit)` : `${s.uses} of ${s.max_uses}`],
    ['Until', s.expires_at],
  ];
  return section(
    `sa-${s.id}`,
    `${s.server}/${s.tool} for ${s.agent_id}`,
    [
      '<dl class="facts">',
      ...facts.map(([k, v]) => `<div class="row"><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`),
      '</dl>',
      `<form method="post" action="${STANDING_PAGE_PATH}" class="standing-revoke">`,
      `<input type="hidden" name="link" value="${esc(m.linkToken)}">`,
      `<input type="hidden" name="csrf" value="${esc(m.csrfToken)}">`,
      `<input type="hidden" name="id" value="${esc(s.id)}">`,
      `<button type="submit" class="btn btn--deny" id="revoke-${esc(s.id)}">Revoke</button>`,
      '</form>',
    ].join('\n'),
  );
}

export function renderStandingPage(m: StandingPageModel): string {
  const body = [
    '<div class="intro">',
    '<h1 id="standing-title">Your standing approvals</h1>',
    `<p>Approvals you, ${esc(m.approverId)}, let stand for later calls. Revoking one takes effect at once, everywhere.</p>`,
    m.notice ? `<p id="standing-notice" class="notice" role="status">${esc(m.notice)}</p>` : '',
    '</div>',
    ...(m.items.length
      ? m.items.map((s) => item(s, m))
      : ['<section class="card"><p id="standing-none">You have no standing approvals in force.</p></section>']),
  ]
    .filter(Boolean)
    .join('\n');
  return layout('Your standing approvals — Countersign', body, 'page-standing');
}
