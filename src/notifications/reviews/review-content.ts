import type { ReviewRow as SampledReview } from '../../authz/reviews/sampled-reviews.service';
import { escapeHtml } from '../page/approval-page.html';

/** The message a reviewer gets by email and push for one sampled call. Untrusted text is escaped in HTML. */
export function reviewNotification(r: SampledReview, reviewer: { displayName: string }, link: { url: string }) {
  const what = `${r.agentId} called ${r.server}/${r.tool} for ${r.delegatorId}`;
  const args = JSON.stringify(r.arguments);
  const shown = args.length > 300 ? `${args.slice(0, 299)}…` : args;
  const subject = `Review needed: ${r.server}/${r.tool} by ${r.agentId}`;
  const text = [
    `Hello ${reviewer.displayName},`,
    '',
    `A call that was allowed has been sampled for review (${Math.round(r.rate * 1000) / 10} % of such calls are).`,
    `${what} on ${r.resourceId ?? 'no named resource'} (${r.resourceClassification}, ${r.environment}).`,
    `Arguments: ${shown}`,
    '',
    `Does it look right? Answer here (the link is yours, answers once, and expires ${r.expiresAt.toISOString()}):`,
    link.url,
  ].join('\n');
  const html = [
    `<p>Hello ${escapeHtml(reviewer.displayName)},</p>`,
    `<p>A call that was allowed has been sampled for review.</p>`,
    `<p><strong>${escapeHtml(what)}</strong> on ${escapeHtml(r.resourceId ?? 'no named resource')} (${escapeHtml(r.resourceClassification)}, ${escapeHtml(r.environment)}).</p>`,
    `<pre>${escapeHtml(shown)}</pre>`,
    `<p><a href="${escapeHtml(link.url)}">Review the call</a></p>`,
  ].join('\n');
  return { subject, text, html, push: { title: 'Review needed', body: what.slice(0, 200), url: link.url, tag: r.id } };
}
