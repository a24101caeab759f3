/**
 * The approver's side of the demo: the approval e-mails demo mode writes to the service's log, and
 * deciding through the link in one as a person in a browser would.
 */

/** The demo e-mails the service logs (JSON lines): recipient and the approval link in it. */
export function approvalEmail(line: string): { to: string; link: string } | undefined {
  if (!line.includes('demo mode, no SMTP_URL: email to')) return undefined;
  let msg: string;
  try {
    msg = String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
  } catch {
    msg = line;
  }
  const to = /email to (\S+)/.exec(msg)?.[1];
  const link = /(https?:\/\/\S+\/approve\/\S+)/.exec(msg)?.[1];
  return to && link ? { to, link } : undefined;
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/**
 * What an approver does in the browser: open the link, fill in a reason, press Approve (or Deny).
 * The page's form (its hidden link and CSRF token) is posted back to where the page says, as a
 * browser posts a same-origin form. Returns the answer page's heading ("You approved").
 */
export async function decideThroughLink(link: string, decision: 'approve' | 'deny', reason: string): Promise<string> {
  const page = await fetch(link);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`the approval page answered ${page.status}`);
  const field = (name: string) => {
    const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
    if (!m) throw new Error(`the approval page has no ${name} field`);
    return unescapeHtml(m[1]);
  };
  const action = unescapeHtml(/<form method="post" action="([^"]+)"/.exec(html)?.[1] ?? '');
  if (!action) throw new Error('the approval page has no form');
  const form = new URLSearchParams({ link: field('link'), csrf: field('csrf'), reason, decision });
  const res = await fetch(new URL(action, link), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
    body: form.toString(),
    redirect: 'manual',
  });
  const answer = await res.text();
  if (res.status !== 200)
    throw new Error(
      `the approval form post answered ${res.status}: ${answer
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .slice(0, 300)}`,
    );
  return /<h1[^>]*>([^<]*)</.exec(answer)?.[1]?.trim() ?? 'recorded';
}
