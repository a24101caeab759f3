import type { ApprovalRequest } from '../approvals/approval-request.entity';
import type { NotificationRound } from './notification-delivery.entity';
import { escapeHtml, formatDuration } from './page/approval-page.html';

export interface NotificationContent {
  subject: string;
  text: string;
  html: string;
  /** Web push payload: small (push services cap it near 4 KB) and nothing secret but the link. */
  push: { title: string; body: string; url: string; tag: string; auth_req_id: string };
}

const KEY_ARGUMENTS = 8;
const VALUE_CHARS = 80;

/** A few top-level arguments, values shortened: enough to judge from a phone; the page shows all. */
function keyArguments(args: Record<string, unknown>): [string, string][] {
  return Object.entries(args)
    .slice(0, KEY_ARGUMENTS)
    .map(([k, v]) => {
      const shown = typeof v === 'string' ? v : JSON.stringify(v);
      return [k, shown.length > VALUE_CHARS ? `${shown.slice(0, VALUE_CHARS - 1)}…` : shown];
    });
}

const timeLeft = (expiresAt: Date) => formatDuration(Math.max(0, Math.round((expiresAt.getTime() - Date.now()) / 1000)));

const ROUND_PREFIX: Record<NotificationRound, string> = {
  initial: 'Approval needed',
  escalation: 'Escalated: approval needed',
  reminder: 'Reminder: approval needed',
};

/** The message an approver gets by email and push for one request. Untrusted text is escaped in HTML. */
export function approvalNotification(
  r: ApprovalRequest,
  approver: { displayName: string },
  link: { url: string },
  round: NotificationRound,
): NotificationContent {
  const what = r.bindingMessage ?? `${r.toolCall.tool} on ${r.toolCall.server}`;
  const delegator = (r.delegation.display_name as string | undefined) ?? r.delegatorId;
  const resource = [r.resource.type, r.resource.id].filter(Boolean).join(' ') || 'not stated';
  const classification = (r.resource.classification as string | undefined) ?? 'unclassified';
  const risk = Object.keys(r.risk).length ? JSON.stringify(r.risk).slice(0, 300) : 'none reported';
  const args = keyArguments(r.toolCall.arguments);
  const expires = `${r.expiresAt.toISOString()} (in ${timeLeft(r.expiresAt)})`;

  const facts: [string, string][] = [
    ['Agent', `${r.agentId}${r.agent.class ? ` (${r.agent.class})` : ''}`],
    ['Acting for', delegator],
    ['Tool', `${r.toolCall.tool} on ${r.toolCall.server}`],
    ...args.map(([k, v]): [string, string] => [`  ${k}`, v]),
    ['Resource', `${resource}, ${classification}${r.environment ? `, ${r.environment}` : ''}`],
    ['Risk', risk],
    ["Agent's reason", r.reason],
    ['Expires', expires],
  ];

  const subject = `[Countersign] ${ROUND_PREFIX[round]}: ${what}`;
  const text = [
    `Hello ${approver.displayName},`,
    '',
    `An AI agent asks for your approval: ${what}`,
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    '',
    `Review and approve or deny (a reason is required):`,
    link.url,
    '',
    `This link is for you alone: it works until the request expires and only once to decide.`,
  ].join('\n');

  const rows = facts
    .map(
      ([k, v]) =>
        `<tr><th align="left" style="padding:4px 12px 4px 0;vertical-align:top">${escapeHtml(k.trim())}</th><td style="padding:4px 0">${escapeHtml(v)}</td></tr>`,
    )
    .join('');
  const html = `<!doctype html><html lang="en"><body style="font-family:system-ui,sans-serif;color:#111;line-height:1.45">
<p>Hello ${escapeHtml(approver.displayName)},</p>
<p>An AI agent asks for your approval:</p>
<h1 style="font-size:20px">${escapeHtml(what)}</h1>
<table role="presentation" style="border-collapse:collapse;font-size:15px">${rows}</table>
<p><a href="${escapeHtml(link.url)}" style="display:inline-block;background:#1747a6;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:600">Review the request</a></p>
<p style="font-size:14px;color:#444">This link is for you alone: it works until the request expires and only once to decide.</p>
</body></html>`;

  const body = `${r.agentId} wants ${r.toolCall.tool} for ${delegator}. Expires in ${timeLeft(r.expiresAt)}.`;
  return {
    subject,
    text,
    html,
    push: { title: `${ROUND_PREFIX[round]}: ${what}`.slice(0, 120), body: body.slice(0, 240), url: link.url, tag: r.id, auth_req_id: r.id },
  };
}
