/**
 * Sampled post-execution review end to end (issue 15): the `@sampled_review` obligation's sample
 * is drawn from the decision id, holds its rate and can be recomputed from the audit log; a
 * sampled call's reviewers get a link by email (a real SMTP server), answer on the page, and a
 * flag is a risk signal later decisions read (`context.agent_flags`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ReviewDeliveries1764200000000 } from '../../migrations/1764200000000-review-deliveries';
import { ReviewLinks } from '../../src/authz/reviews/review-links.service';
import { adminToken, call, tenantToken } from '../support/api';
import { selfLinked, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { sql } from '../support/callback-server';
import { agentToken, gatewayToken } from '../support/keys';
import { notificationSinks, NotificationSinks } from '../support/notifications';

const PERMIT = (tool: string) => `permit (principal, action == Action::"call_tool", resource) when { context.granted && context.tool == "${tool}" };`;
const POLICIES = {
  'sample-reads': `@reason("sampled_read") @sampled_review("0.1") @reviewers("user:u1") ${PERMIT('read_record')}`,
  'review-every-pii-read': `@reason("pii_read") @sampled_review("1") @reviewers("group:security") ${PERMIT('read_pii')}`,
  'no-pii-after-a-flag': `@reason("agent_flagged") forbid (principal, action, resource) when { context.tool == "read_pii" && context.agent_flags.last_24h > 0 };`,
  'plain-write': PERMIT('write_record'),
};

/** The formula as the README states it, written again here: an auditor's recomputation. */
const recomputed = (tenant: string, decisionId: string) => {
  const digest = createHash('sha256').update(`${tenant}\n${decisionId}`).digest();
  return Number(digest.readBigUInt64BE(0) >> 11n) / 2 ** 53;
};

describe('sampled post-execution review', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let sinks: NotificationSinks;
  let gateway: string;
  const agents: Record<string, string> = {};

  beforeAll(async () => {
    sinks = await notificationSinks();
    env = await testEnvironment();
    api = await env.start({ ...sinks.config, ...(await selfLinked()) });
    gateway = await tenantToken('acme');
    expect((await call(api.url, 'POST', '/v1/policies', { token: await adminToken(), body: { policies: POLICIES, activate: true } })).status).toBe(201);
    const delegations = await gatewayToken({ tenant: 'acme', sub: 'idp', scope: 'countersign:delegations' });
    for (const agent of ['rate-agent', 'flag-agent', 'other-agent']) {
      expect((await call(api.url, 'POST', '/v1/delegations', { token: delegations, body: { human: 'alice', agent, tools: ['records/*'] } })).status).toBe(201);
      agents[agent] = await agentToken({ human: 'alice', actors: [agent] });
    }
  }, 60_000);
  afterAll(async () => {
    await env?.teardown();
    await sinks?.close();
  });

  const authorize = (agent: string, tool: string, args: Record<string, unknown> = { id: 'rec-1' }) =>
    call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: {
        agent: { token: agents[agent] },
        action: { server: 'records', tool, arguments: args },
        intent: { category: 'read' },
        resource: { id: 'rec-1', classification: 'pii' },
        correlation: { mcp_session_id: `sess-${agent}` },
      },
    });

  it('samples 2,000 allowed calls at 0.1 within a 4-sigma binomial band, each reproducible from the audit log', async () => {
    const n = 2000;
    const responses: any[] = [];
    for (let i = 0; i < n; i += 8) {
      responses.push(...(await Promise.all(Array.from({ length: 8 }, () => authorize('rate-agent', 'read_record')))));
    }
    expect(responses.every((r) => r.status === 200 && r.body.verdict === 'allow')).toBe(true);
    const sampled = responses.filter((r) => r.body.sampled_review.sampled);
    const sigma = Math.sqrt(n * 0.1 * 0.9);
    console.log(`sampled ${sampled.length} of ${n} at 0.1 (expected ${n * 0.1} ± ${(4 * sigma).toFixed(1)})`);
    expect(Math.abs(sampled.length - n * 0.1)).toBeLessThan(4 * sigma);
    // The response's sample is the recomputed one, and it alone decides: below the rate, sampled, with a review.
    for (const r of responses) {
      const s = r.body.sampled_review;
      expect(s.sample).toBe(recomputed('acme', r.body.decision_id));
      expect(s.rate).toBe(0.1);
      expect(s.sampled).toBe(s.sample < 0.1);
      expect(typeof s.review_id === 'string').toBe(s.sampled);
    }
    // The auditor's view: from the decisions' audit events alone, the same calls are sampled, and each has its review.
    const audited = await sql<{ decision_id: string; rate: string; sampled: boolean; review_id: string | null }>(
      env.db.url,
      `SELECT data->>'decision_id' AS decision_id, data->'obligations'->0->>'rate' AS rate, (data->'sampled_review'->>'sampled')::boolean AS sampled,
              data->'sampled_review'->>'review_id' AS review_id
         FROM audit_events WHERE type = 'authz.decision' AND tenant_id = 'acme' AND agent_id = 'rate-agent'`,
    );
    expect(audited).toHaveLength(n);
    for (const a of audited) expect(a.sampled).toBe(recomputed('acme', a.decision_id) < Number(a.rate));
    const reviews = await sql<{ id: string; decision_id: string }>(
      env.db.url,
      `SELECT id, decision_id FROM sampled_reviews WHERE tenant_id = 'acme' AND agent_id = 'rate-agent'`,
    );
    expect(new Set(reviews.map((r) => r.decision_id))).toEqual(new Set(sampled.map((r) => r.body.decision_id)));
    const events = await sql<{ n: number }>(
      env.db.url,
      `SELECT count(*)::int AS n FROM audit_events WHERE type = 'review.sampled' AND agent_id = 'rate-agent'`,
    );
    expect(events[0].n).toBe(sampled.length);
  }, 180_000);

  it('emails the reviewers a link; the page shows the call; a flag is recorded once, audited, and denies the agent its next PII read', async () => {
    const args = { id: 'rec-1', fields: ['ssn', 'dob'] };
    const first = await authorize('flag-agent', 'read_pii', args);
    expect(first.status).toBe(200);
    expect(first.body.sampled_review).toMatchObject({ sampled: true, rate: 1 });
    const reviewId: string = first.body.sampled_review.review_id;
    expect(reviewId).toMatch(/^rev_/);

    // group:security is erin and dave: each gets their own link.
    const mails = await sinks.mail.waitForCount(2, (m) => (m.parsed.text ?? '').includes(`/review/${reviewId}`));
    expect(mails.map((m) => m.envelope.to[0]).sort()).toEqual(['dave@acme.example', 'erin@acme.example']);
    // Threaded on the review, each under a Message-ID of its own.
    expect(mails.map((m) => m.parsed.references)).toEqual([`<${reviewId}@countersign.test>`, `<${reviewId}@countersign.test>`]);
    expect(new Set(mails.map((m) => m.parsed.messageId)).size).toBe(2);
    for (const m of mails) expect(m.parsed.messageId).toMatch(new RegExp(`^<${reviewId}\\.\\d+@countersign\\.test>$`));
    const mail = mails.find((m) => m.envelope.to[0] === 'erin@acme.example')!;
    expect(mail.parsed.subject).toContain('records/read_pii');
    const link = /(https?:\/\/\S+\/review\/\S+)/.exec(mail.parsed.text ?? '')![1];

    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const part of ['flag-agent', 'records/read_pii', 'ssn', 'alice', first.body.decision_id]) expect(html).toContain(part);
    expect(html).toContain('id="review-form"');

    const token = new URL(link).searchParams.get('link')!;
    const answer = (body: Record<string, string>) =>
      fetch(`${api.url}/review/${reviewId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body),
      });
    // Bad input names the field and changes nothing.
    const incomplete = await answer({ link: token, reason: 'x' });
    expect(incomplete.status).toBe(400);
    expect(await incomplete.text()).toContain('answer:');
    const noReason = await answer({ link: token, answer: 'flag', reason: ' ' });
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toContain('reason:');
    expect((await answer({ link: 'not-a-link', answer: 'flag', reason: 'x' })).status).toBe(401);
    expect((await sql(env.db.url, `SELECT status FROM sampled_reviews WHERE id = $1`, [reviewId]))[0].status).toBe('pending');

    // Before the flag, the agent's next read is allowed.
    expect((await authorize('flag-agent', 'read_pii')).body.verdict).toBe('allow');
    const flagged = await answer({ link: token, answer: 'flag', reason: 'it read fields the task did not need' });
    expect(flagged.status).toBe(200);
    expect(await flagged.text()).toContain('id="review-result">Flagged');
    // The review takes one answer: the same link, or dave's, again is a 409.
    expect((await answer({ link: token, answer: 'looks_right', reason: 'fine' })).status).toBe(409);
    const daveLink = new URL(
      /(https?:\/\/\S+\/review\/\S+)/.exec(mails.find((m) => m.envelope.to[0] === 'dave@acme.example')!.parsed.text ?? '')![1],
    ).searchParams.get('link')!;
    expect((await answer({ link: daveLink, answer: 'looks_right', reason: 'fine' })).status).toBe(409);

    const next = await authorize('flag-agent', 'read_pii');
    expect(next.body.verdict).toBe('deny');
    expect(next.body.reasons).toContain('agent_flagged');
    // A signal for that agent only.
    expect((await authorize('other-agent', 'read_pii')).body.verdict).toBe('allow');

    const audit = await sql<{ type: string; data: any }>(env.db.url, `SELECT type, data FROM audit_events WHERE data->>'review_id' = $1 ORDER BY id`, [
      reviewId,
    ]);
    // Each delivery's own event (review.notification_sent) may commit after the answer: it is checked in the retry test.
    const lifecycle = audit.filter((a) => !a.type.startsWith('review.notification_'));
    expect(lifecycle.map((a) => a.type)).toEqual(['review.sampled', 'review.notified', 'review.reviewed']);
    expect(lifecycle[1].data.recipients.sort()).toEqual(['dave', 'erin']);
    expect(lifecycle[2].data).toMatchObject({
      answer: 'flag',
      reviewer: 'erin',
      reason: 'it read fields the task did not need',
      decision_id: first.body.decision_id,
    });
    const [decision] = await sql<{ data: any }>(env.db.url, `SELECT data FROM audit_events WHERE type = 'authz.decision' AND data->>'decision_id' = $1`, [
      next.body.decision_id,
    ]);
    // The set reads agent_flags, never autonomy: only the first was read.
    expect(decision.data.facts.agent_flags).toEqual({ last_24h: 1, last_7d: 1, last_30d: 1 });
    expect(decision.data.facts.autonomy).toBeUndefined();
  }, 60_000);

  it('"looks right" is recorded and raises no signal; a call without a sampled_review obligation carries no sample', async () => {
    const agent = 'other-agent';
    const first = await authorize(agent, 'read_pii');
    const reviewId = first.body.sampled_review.review_id;
    const { token } = await api.app.get(ReviewLinks).mint({ id: reviewId, tenantId: 'acme', expiresAt: new Date(Date.now() + 60_000) }, 'erin');
    const res = await fetch(`${api.url}/review/${reviewId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ link: token, answer: 'looks_right', reason: 'as expected' }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="review-result">Looks right');
    expect((await authorize(agent, 'read_pii')).body.verdict).toBe('allow');
    const write = await authorize(agent, 'write_record');
    expect(write.body.verdict).toBe('allow');
    expect(write.body.sampled_review).toBeUndefined();
  });

  it("a review link opens only its own review, and another tenant's link reaches nothing of this one", async () => {
    const first = await authorize('other-agent', 'read_pii');
    const reviewId = first.body.sampled_review.review_id;
    const links = api.app.get(ReviewLinks);
    const other = await links.mint({ id: `rev_${randomUUID()}`, tenantId: 'acme', expiresAt: new Date(Date.now() + 60_000) }, 'erin');
    expect((await fetch(`${api.url}/review/${reviewId}?link=${encodeURIComponent(other.token)}`)).status).toBe(404);
    const globex = await links.mint({ id: reviewId, tenantId: 'globex', expiresAt: new Date(Date.now() + 60_000) }, 'erin');
    expect((await fetch(`${api.url}/review/${reviewId}?link=${encodeURIComponent(globex.token)}`)).status).toBe(404);
    const answered = await fetch(`${api.url}/review/${reviewId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ link: globex.token, answer: 'flag', reason: 'cross-tenant' }),
    });
    expect(answered.status).toBe(404);
    expect((await sql(env.db.url, `SELECT status FROM sampled_reviews WHERE id = $1`, [reviewId]))[0].status).toBe('pending');
    const expired = await links.mint({ id: reviewId, tenantId: 'acme', expiresAt: new Date(Date.now() - 5_000) }, 'erin');
    expect((await fetch(`${api.url}/review/${reviewId}?link=${encodeURIComponent(expired.token)}`)).status).toBe(410);
  });

  it("retries one reviewer's failed delivery on its own: it arrives after the retry, and the other reviewer gets exactly one mail", async () => {
    // Earlier tests' notifications first, so that the refusal below is this review's.
    const owed = async () =>
      (
        await sql<{ n: number }>(
          env.db.url,
          `SELECT (SELECT count(*) FROM notification_deliveries WHERE status = 'queued') + (SELECT count(*) FROM sampled_reviews WHERE notified_at IS NULL AND status = 'pending')::int AS n`,
        )
      )[0].n;
    for (let i = 0; i < 200 && Number(await owed()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    // dave's mail server refuses the next message to him once (451, temporary); erin's goes through.
    sinks.mail.failNextTo('dave@acme.example');
    const reviewId: string = (await authorize('other-agent', 'read_pii')).body.sampled_review.review_id;
    const forThis = (to: string) => (m: { envelope: { to: string[] }; parsed: { text?: string } }) =>
      m.envelope.to.includes(to) && (m.parsed.text ?? '').includes(`/review/${reviewId}`);
    const daves = await sinks.mail.waitFor(forThis('dave@acme.example'), 20_000);
    expect((await fetch(/(https?:\/\/\S+\/review\/\S+)/.exec(daves.parsed.text ?? '')![1])).status).toBe(200);

    const attempts = async () =>
      sql<{ approver_id: string; channel: string; status: string; attempts: number; tried: string[] }>(
        env.db.url,
        `SELECT d.approver_id, d.channel, d.status, d.attempts, array_agg(a.status ORDER BY a.attempt) AS tried
           FROM notification_deliveries d JOIN notification_attempts a ON a.delivery_id = d.id
          WHERE d.review_id = $1 GROUP BY d.id ORDER BY d.approver_id`,
        [reviewId],
      );
    let rows = await attempts();
    for (let i = 0; i < 100 && !rows.every((r) => r.status === 'sent'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      rows = await attempts();
    }
    expect(rows).toEqual([
      { approver_id: 'dave', channel: 'email', status: 'sent', attempts: 2, tried: ['failed', 'sent'] },
      { approver_id: 'erin', channel: 'email', status: 'sent', attempts: 1, tried: ['sent'] },
    ]);
    // Both were told once each: the retry was dave's alone.
    expect(sinks.mail.messages.filter(forThis('erin@acme.example'))).toHaveLength(1);
    expect(sinks.mail.messages.filter(forThis('dave@acme.example'))).toHaveLength(1);
    const events = await sql<{ type: string; data: any }>(
      env.db.url,
      `SELECT type, data FROM audit_events WHERE data->>'review_id' = $1 AND type LIKE 'review.notif%' ORDER BY id`,
      [reviewId],
    );
    // erin's and dave's deliveries commit independently: compare them in reviewer order.
    const described = events.map((e) => [e.type, e.data.reviewer, e.data.attempt]);
    expect([described[0], ...described.slice(1).sort((a, b) => String(a[1]).localeCompare(String(b[1])))]).toEqual([
      ['review.notified', undefined, undefined],
      ['review.notification_sent', 'dave', 2],
      ['review.notification_sent', 'erin', 1],
    ]);
    expect(events[0].data.deliveries).toEqual(
      expect.arrayContaining([
        { reviewer: 'dave', channel: 'email' },
        { reviewer: 'erin', channel: 'email' },
      ]),
    );
  }, 30_000);

  it('re-reads the reviewer at answer time: one disabled since, or removed from the reviewing group, is refused (403) and nothing is written', async () => {
    const admin = await adminToken();
    const reviewId: string = (await authorize('other-agent', 'read_pii')).body.sampled_review.review_id;
    // Minted while dave is an active member of group:security, as the notification's link is.
    const { token } = await api.app.get(ReviewLinks).mint({ id: reviewId, tenantId: 'acme', expiresAt: new Date(Date.now() + 60_000) }, 'dave');
    const answer = () =>
      fetch(`${api.url}/review/${reviewId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ link: token, answer: 'flag', reason: 'after the fact' }),
      });
    const unchanged = async () => {
      expect((await sql(env.db.url, `SELECT status, reviewed_by FROM sampled_reviews WHERE id = $1`, [reviewId]))[0]).toEqual({
        status: 'pending',
        reviewed_by: null,
      });
      expect(await sql(env.db.url, `SELECT id FROM audit_events WHERE type = 'review.reviewed' AND data->>'review_id' = $1`, [reviewId])).toEqual([]);
    };
    const setDave = (status: string) =>
      call(api.url, 'PUT', '/v1/approvers/dave', { token: admin, body: { display_name: 'Dave', email: 'dave@acme.example', status } });
    const security = (members: string[]) => call(api.url, 'PUT', '/v1/approver-groups/security', { token: admin, body: { members } });

    expect((await setDave('disabled')).status).toBe(200);
    const disabled = await answer();
    expect(disabled.status).toBe(403);
    expect(await disabled.text()).toContain('dave is disabled in the approver directory and may not review calls.');
    await unchanged();

    expect((await setDave('active')).status).toBe(200);
    expect((await security(['erin'])).status).toBe(200);
    const removed = await answer();
    expect(removed.status).toBe(403);
    expect(await removed.text()).toContain('dave is no longer one of this call&#39;s reviewers.');
    await unchanged();

    // Back in the group, the same link answers.
    expect((await security(['erin', 'dave'])).status).toBe(200);
    expect((await answer()).status).toBe(200);
    expect((await sql(env.db.url, `SELECT status, reviewed_by FROM sampled_reviews WHERE id = $1`, [reviewId]))[0]).toEqual({
      status: 'flagged',
      reviewed_by: 'dave',
    });
  });

  it('refuses a policy set whose reviewers are not approver references, naming the policy', async () => {
    const res = await call(api.url, 'POST', '/v1/policies', {
      token: await adminToken(),
      body: { policies: { bad: `@sampled_review("0.5") @reviewers("security team") ${PERMIT('read_record')}` } },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('bad: @reviewers must list');
  });

  it("the review deliveries' migration goes down and up again, and reviewers are told after it", async () => {
    const column = `SELECT column_name FROM information_schema.columns WHERE table_name = 'notification_deliveries' AND column_name = 'review_id'`;
    const db = new DataSource({ type: 'postgres', url: env.db.url });
    await db.initialize();
    const runner = db.createQueryRunner();
    try {
      await new ReviewDeliveries1764200000000().down(runner);
      expect(await sql(env.db.url, column)).toEqual([]);
      await new ReviewDeliveries1764200000000().up(runner);
    } finally {
      await runner.release();
      await db.destroy();
    }
    expect(await sql(env.db.url, column)).toHaveLength(1);
    // other-agent was flagged above (no more PII reads): rate-agent never was.
    const reviewId: string = (await authorize('rate-agent', 'read_pii')).body.sampled_review.review_id;
    await sinks.mail.waitForCount(2, (m) => (m.parsed.text ?? '').includes(`/review/${reviewId}`));
  });
});
