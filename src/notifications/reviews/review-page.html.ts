import { escapeHtml, layout, section } from '../page/approval-page.html';
import type { ReviewPageModel } from './review-page.service';

const row = (label: string, value: string | null) =>
  `<div class="row"><dt>${escapeHtml(label)}</dt><dd>${value === null ? '<span class="muted">Not given</span>' : escapeHtml(value)}</dd></div>`;

/** The sampled call, then "looks right" / "flag" with a reason; once answered, the answer. */
export function renderReviewPage(m: ReviewPageModel): string {
  const r = m.review;
  const call = section(
    'call',
    'The call',
    `<dl>${[
      row('Agent', `${r.agentId} (${r.agentClass})`),
      row('For', r.delegatorId),
      row('Tool', `${r.server}/${r.tool}`),
      row('Resource', r.resourceId),
      row('Classification', r.resourceClassification),
      row('Environment', r.environment),
      row('Session', r.mcpSessionId),
      row('Allowed at', r.createdAt.toISOString()),
      row('Decision', r.decisionId),
    ].join('')}</dl><h3>Arguments</h3><pre id="review-arguments">${escapeHtml(JSON.stringify(r.arguments, null, 2))}</pre>`,
  );
  const answer =
    r.status === 'pending'
      ? section(
          'answer',
          'Does this call look right?',
          `<form id="review-form" method="post" action="/review/${escapeHtml(r.id)}">
<input type="hidden" name="link" value="${escapeHtml(m.link)}">
<label for="reason">Reason</label>
<textarea id="reason" name="reason" required maxlength="2000"></textarea>
<button id="looks-right" type="submit" name="answer" value="looks_right">Looks right</button>
<button id="flag" type="submit" name="answer" value="flag">Flag</button>
</form>`,
        )
      : section(
          'answer',
          'Reviewed',
          `<p id="review-result">${r.status === 'flagged' ? 'Flagged' : 'Looks right'}</p><dl>${row('By', r.reviewedBy)}${row('Reason', r.reason)}${row('At', r.reviewedAt?.toISOString() ?? null)}</dl>`,
        );
  return layout('Review a call — Countersign', `<h1>Sampled call review</h1>\n${call}\n${answer}`, 'page-review');
}
