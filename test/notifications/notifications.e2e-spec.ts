import { Queue } from 'bullmq';
import { ApproverLinks } from '../../src/approvals/approver-links.service';
import { APPROVER_LINK_AUDIENCE } from '../../src/common/auth/approver-link.verifier';
import { Client } from 'pg';
import { finishDelivery } from '../../src/notifications/delivery-finish';
import { NotificationDeliveries } from '../../src/notifications/notification-deliveries.repository';
import { NotificationJobs } from '../../src/notifications/notification-jobs.service';
import { NotificationQueue } from '../../src/notifications/notification-queues';
import type { ResolvedAddress } from '../../src/common/host-allow-list';
import { INTERNAL_NAME_ANSWERS } from '../support/fake-dns';
import { HostResolver } from '../../src/common/host-resolver';
import { signedLink } from '../support/keys';
import { call, parkBody, tenantToken } from '../support/api';
import { REDIS_URL, selfLinked, TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, eventually, sleep, sql } from '../support/callback-server';
import { linkIn, notificationSinks, NotificationSinks } from '../support/notifications';

describe('notifying approvers: email, web push, escalation, reminders', () => {
  let env: TestEnvironment;
  let sinks: NotificationSinks;
  let api: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    sinks = await notificationSinks();
    api = await env.start({ ...sinks.config, ...(await selfLinked()) });
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(async () => {
    await env.teardown();
    await sinks.close();
  });

  async function park(obligation: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): Promise<string> {
    const body = parkBody(overrides);
    body.obligation = { ...body.obligation, ...obligation };
    return parkApproval(api, gateway, body);
  }

  const mailFor = (to: string, id: string, timeoutMs?: number) =>
    sinks.mail.waitFor((m) => m.envelope.to.includes(to) && (m.parsed.text ?? '').includes(id), timeoutMs);
  const mailsAbout = (id: string) => sinks.mail.messages.filter((m) => (m.parsed.text ?? '').includes(id));

  const deliveries = (id: string) =>
    sql<{ id: string; round: string; approver_id: string; channel: string; status: string; attempts: number; last_error: string | null }>(
      env.db.url,
      `SELECT id, round, approver_id, channel, status, attempts, last_error FROM notification_deliveries WHERE approval_id = $1 ORDER BY round, approver_id, channel`,
      [id],
    );
  const attempts = (id: string) =>
    sql<{ approver_id: string; channel: string; attempt: number; target: string; status: string; error: string | null }>(
      env.db.url,
      `SELECT d.approver_id, a.channel, a.attempt, a.target, a.status, a.error FROM notification_attempts a
         JOIN notification_deliveries d ON d.id = a.delivery_id WHERE d.approval_id = $1 ORDER BY a.id`,
      [id],
    );

  const vote = (id: string, approverId: string, decision: 'approve' | 'deny', viaGroup?: string) =>
    voteAs(api, { approvalId: id, approverId, decision, reason: `${approverId} says ${decision}`, viaGroup });

  /** A link signed by this service for anyone, eligible or not (what an insider's forged link looks like). */
  const rawLink = (id: string, approverId: string, extra: Record<string, unknown> = {}) => signedLink(api.app, { id, approver: approverId, extra });

  describe('email', () => {
    let id: string;
    beforeAll(async () => {
      id = await park(
        { approvers: ['user:bob', 'user:carol'], binding_message: 'Pay 25,000 EUR to ACME GmbH' },
        { delegator: { id: 'alice', display_name: 'Alice Liddell', delegation_id: 'dlg-1' }, risk: { session_velocity: 7, new_payee: true } },
      );
    });

    it('each named approver gets one email from the configured sender, with the binding message in the subject', async () => {
      const [bob, carol] = await Promise.all([mailFor('bob@acme.example', id), mailFor('carol@acme.example', id)]);
      for (const mail of [bob, carol]) {
        expect(mail.parsed.subject).toBe('[Countersign] Approval needed: Pay 25,000 EUR to ACME GmbH');
        expect(mail.parsed.from?.value).toEqual([{ name: 'Countersign', address: 'approvals@countersign.test' }]);
        expect(mail.envelope.from).toBe('approvals@countersign.test');
        // Composed before sending (EmailChannel): the headers a mail client threads and dates it by are there.
        expect(mail.parsed.messageId).toMatch(/^<[^@\s]+@countersign\.test>$/);
        expect(mail.parsed.date).toBeInstanceOf(Date);
      }
      expect(bob.parsed.to && 'text' in bob.parsed.to ? bob.parsed.to.text : '').toBe('bob@acme.example');
      await sleep(300);
      expect(mailsAbout(id)).toHaveLength(2);
    });

    it("names each e-mail by its delivery within the request, and refers to the request as the e-mails' thread", async () => {
      const [bob, carol] = await Promise.all([mailFor('bob@acme.example', id), mailFor('carol@acme.example', id)]);
      const rows = await deliveries(id);
      const deliveryOf = (approver: string) => rows.find((d) => d.approver_id === approver)!.id;
      expect(bob.parsed.messageId).toBe(`<${id}.${deliveryOf('bob')}@countersign.test>`);
      expect(carol.parsed.messageId).toBe(`<${id}.${deliveryOf('carol')}@countersign.test>`);
      for (const mail of [bob, carol]) {
        expect(mail.parsed.references).toBe(`<${id}@countersign.test>`);
        // The first round starts the thread: it answers nothing.
        expect(mail.parsed.inReplyTo).toBeUndefined();
      }
    });

    it('has a plain-text and an HTML part with the agent, the human, the tool and key arguments, resource, classification, risk, reason, expiry and the link', async () => {
      const mail = await mailFor('bob@acme.example', id);
      const text = mail.parsed.text!;
      const html = String(mail.parsed.html);
      const [row] = await sql<{ expires_at: Date }>(env.db.url, `SELECT expires_at FROM approval_requests WHERE id = $1`, [id]);
      for (const part of [text, html]) {
        expect(part).toContain('spiffe://acme.example/agents/payment-agent');
        expect(part).toContain('Alice Liddell');
        expect(part).toContain('transfer_funds on payments-mcp');
        expect(part).toContain('DE89370400440532013000');
        expect(part).toContain('25000');
        expect(part).toContain('bank_account acct-7, confidential, production');
        expect(part).toContain('new_payee');
        expect(part).toContain('Invoice INV-2026-0042 is due today');
        expect(part).toContain(row.expires_at.toISOString());
      }
      const link = linkIn(mail);
      expect(link.startsWith(`${api.url}/approve/${id}?link=`)).toBe(true);
      expect(html).toContain(link.replace(/&/g, '&amp;'));
    });

    it("the emailed link opens the approver's page, bound to that approver", async () => {
      const mail = await mailFor('carol@acme.example', id);
      const page = await fetch(linkIn(mail));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Pay 25,000 EUR to ACME GmbH');
      const token = new URL(linkIn(mail)).searchParams.get('link')!;
      const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      expect(payload).toMatchObject({ sub: 'carol', tenant: 'acme', auth_req_id: id, aud: APPROVER_LINK_AUDIENCE });
      expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
    });

    it('one delivery row per approver per channel, each attempt recorded, and the round audited', async () => {
      await eventually(async () => (await deliveries(id)).every((d) => d.status === 'sent'));
      expect((await deliveries(id)).map((d) => [d.round, d.approver_id, d.channel, d.status, d.attempts])).toEqual([
        ['initial', 'bob', 'email', 'sent', 1],
        ['initial', 'carol', 'email', 'sent', 1],
      ]);
      expect(await attempts(id)).toEqual([
        expect.objectContaining({ channel: 'email', attempt: 1, status: 'sent', error: null }),
        expect.objectContaining({ channel: 'email', attempt: 1, status: 'sent', error: null }),
      ]);
      const events = await auditTypes(env.db.url, id);
      const notified = events.find((e) => e.type === 'approval.notified')!;
      expect(notified.data.recipients).toEqual(
        expect.arrayContaining([
          { approver: 'bob', via_group: null },
          { approver: 'carol', via_group: null },
        ]),
      );
      expect(events.filter((e) => e.type === 'approval.notification_sent')).toHaveLength(2);
    });

    it('queuing the same round and deliveries again is a no-op: deterministic job ids, no second email', async () => {
      const jobs = api.app.get(NotificationJobs);
      const rows = await deliveries(id);
      const request = { id, tenantId: 'acme', createdAt: new Date(), escalateAfter: null, remindAfter: null };
      await jobs.scheduleRounds(request);
      await jobs.scheduleDeliveries(rows.map((r) => ({ id: r.id, tenantId: 'acme', channel: r.channel as 'email' })));
      const queue = new Queue(NotificationQueue.Deliveries, { connection: { url: REDIS_URL }, prefix: `${env.redisPrefix}-bull` });
      try {
        for (const r of rows) expect((await queue.getJob(`delivery-${r.id}`))?.id).toBe(`delivery-${r.id}`);
      } finally {
        await queue.close();
      }
      await sleep(500);
      expect(mailsAbout(id)).toHaveLength(2);
    });
  });

  it('a group is expanded to its members, each notified once even when also named directly', async () => {
    const id = await park({ approvers: ['group:finance', 'user:bob'], quorum: 1 });
    await Promise.all(['bob', 'carol', 'dave'].map((p) => mailFor(`${p}@acme.example`, id)));
    await sleep(300);
    expect(
      mailsAbout(id)
        .map((m) => m.envelope.to[0])
        .sort(),
    ).toEqual(['bob@acme.example', 'carol@acme.example', 'dave@acme.example']);
    const rows = await sql<{ approver_id: string; via_group: string | null }>(
      env.db.url,
      `SELECT approver_id, via_group FROM notification_deliveries WHERE approval_id = $1 ORDER BY approver_id`,
      [id],
    );
    expect(rows).toEqual([
      { approver_id: 'bob', via_group: null },
      { approver_id: 'carol', via_group: 'finance' },
      { approver_id: 'dave', via_group: 'finance' },
    ]);
  });

  it('a temporary SMTP failure is retried with backoff and every attempt is recorded', async () => {
    sinks.mail.failNext(2, 451);
    const id = await park({ approvers: ['user:erin'] });
    await mailFor('erin@acme.example', id);
    await eventually(async () => (await deliveries(id))[0]?.status === 'sent');
    const tries = await attempts(id);
    expect(tries.map((t) => [t.attempt, t.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'sent'],
    ]);
    expect(tries[0].error).toMatch(/^451/);
    expect(tries[0].target).toBe('erin@acme.example');
  });

  it('every attempt of a delivery carries the same Message-ID, so a copy sent again is known for the same message', async () => {
    sinks.mail.failNextTo('gina@acme.example', 2, 451);
    const id = await park({ approvers: ['user:gina'] });
    const sent = await mailFor('gina@acme.example', id);
    const refused = sinks.mail.refused.filter((m) => (m.parsed.text ?? '').includes(id));
    expect(refused).toHaveLength(2);
    const [delivery] = await deliveries(id);
    expect([...refused, sent].map((m) => m.parsed.messageId)).toEqual(Array(3).fill(`<${id}.${delivery.id}@countersign.test>`));
  });

  it('deliveries that finish at once are recorded in one round trip, each as its own statement', async () => {
    const id = await park({ approvers: ['group:finance'] });
    await eventually(async () => (await deliveries(id)).length === 3 && (await deliveries(id)).every((d) => d.status === 'sent'));
    const repository = api.app.get(NotificationDeliveries);
    const loaded = await Promise.all((await deliveries(id)).map((d) => repository.load('acme', d.id)));
    const texts: string[] = [];
    const original = Client.prototype.query;
    const spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      const [q] = args;
      texts.push(typeof q === 'string' ? q : (q as { text: string }).text);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
    try {
      // A second attempt recorded for each, all in one turn, as a worker's concurrent jobs finish.
      const finish = finishDelivery('email', [{ target: 'someone@acme.example', outcome: { outcome: 'sent' } }], true);
      await Promise.all(loaded.map((d) => repository.finish(d!, 2, finish)));
    } finally {
      spy.mockRestore();
    }
    // Other deliveries' records may be sent meanwhile: these three are the ones that name their delivery ids.
    const ids = loaded.map((d) => d!.id);
    const together = texts.filter((t) => t.startsWith('EXECUTE') && ids.some((deliveryId) => t.includes(`'${deliveryId}'`)));
    expect(together).toHaveLength(1);
    for (const deliveryId of ids) expect(together[0]).toContain(`'${deliveryId}'`);
    expect(together[0].split('; EXECUTE ')).toHaveLength(3);
    expect(await attempts(id)).toEqual(
      expect.arrayContaining(['bob', 'carol', 'dave'].map((approver_id) => expect.objectContaining({ approver_id, attempt: 2, status: 'sent' }))),
    );
    expect((await deliveries(id)).map((d) => d.attempts)).toEqual([2, 2, 2]);
  });

  it('a permanent SMTP refusal (5xx) is not retried: the delivery fails and is audited', async () => {
    sinks.mail.failNext(1, 550);
    const id = await park({ approvers: ['user:erin'] });
    await eventually(async () => (await deliveries(id))[0]?.status === 'failed');
    expect((await attempts(id)).map((t) => [t.attempt, t.status])).toEqual([[1, 'failed']]);
    expect((await auditTypes(env.db.url, id)).map((e) => e.type)).toContain('approval.notification_failed');
  });

  describe('web push', () => {
    /** The link that authenticates an approver's subscription: from a request they were not named on, so that
     * subscribing sends them nothing (a subscription belongs to the person, not to one request). */
    let unrelated: string;
    beforeAll(async () => {
      unrelated = await park({ approvers: ['user:u9'] });
    });
    const linkFor = (approver: string) => rawLink(unrelated, approver);
    const subscribe = async (approver: string, subscription: unknown) =>
      call(api.url, 'POST', '/v1/push-subscriptions', { token: await linkFor(approver), body: subscription, headers: { 'user-agent': 'jest-phone' } });
    const subscription = (s: ReturnType<NotificationSinks['push']['subscribe']>) => ({ endpoint: s.endpoint, expirationTime: null, keys: s.keys });

    it('serves the VAPID public key to browsers', async () => {
      const res = await call(api.url, 'GET', '/v1/push/vapid-public-key');
      expect(res).toMatchObject({ status: 200, body: { public_key: sinks.vapid.publicKey } });
    });

    it('an approver subscribes with their link; bad subscriptions are 400s naming the field and store nothing', async () => {
      const s = sinks.push.subscribe();
      const ok = await subscribe('gina', subscription(s));
      expect(ok.status).toBe(201);
      expect(ok.body.approver_id).toBe('gina');
      const cases: [unknown, string][] = [
        [{ ...subscription(s), endpoint: 'https://evil.example/push/1' }, 'endpoint'],
        [{ ...subscription(s), endpoint: 'http://127.0.0.1:9/push/1' }, 'endpoint'],
        [{ ...subscription(s), keys: { ...s.keys, p256dh: 'AAAA' } }, 'keys.p256dh'],
        [{ ...subscription(s), keys: { ...s.keys, auth: 'not base64!' } }, 'keys.auth'],
        [{ keys: s.keys }, 'endpoint'],
        [{ ...subscription(s), extra: 1 }, 'extra'],
      ];
      for (const [body, field] of cases) {
        const res = await subscribe('gina', body);
        expect(res.status).toBe(400);
        expect(res.body.field ?? res.body.errors?.[0]?.field).toBe(field);
      }
      const rows = await sql(env.db.url, `SELECT endpoint, user_agent FROM push_subscriptions WHERE approver_id = 'gina'`);
      expect(rows).toEqual([{ endpoint: s.endpoint, user_agent: 'jest-phone' }]);
      expect((await call(api.url, 'POST', '/v1/push-subscriptions', { body: subscription(s) })).status).toBe(401);
      expect((await call(api.url, 'POST', '/v1/push-subscriptions', { token: gateway, body: subscription(s) })).status).toBe(401);
    });

    it('a subscribed approver gets an encrypted push with VAPID: small payload, the link, no other secret', async () => {
      const s = sinks.push.subscribe();
      expect((await subscribe('h-alice', subscription(s))).status).toBe(201);
      const id = await park({ approvers: ['user:h-alice'], binding_message: 'Delete 3 prod orders' });
      const push = await sinks.push.waitFor((d) => d.subscriptionId === s.id && d.status === 201 && (d.json as { auth_req_id?: string })?.auth_req_id === id);
      expect(push.json).toEqual({
        title: 'Approval needed: Delete 3 prod orders',
        body: expect.stringContaining('transfer_funds'),
        url: expect.stringMatching(new RegExp(`^${api.url}/approve/${id}\\?link=`)),
        tag: id,
        auth_req_id: id,
      });
      expect(push.payload.length).toBeLessThan(2048);
      expect(push.vapid).toMatchObject({ aud: sinks.push.origin, sub: 'mailto:security@countersign.test', k: sinks.vapid.publicKey });
      expect(push.ttl).toBeGreaterThan(500);
      expect(push.urgency).toBe('high');
      const page = await fetch((push.json as { url: string }).url);
      expect(page.status).toBe(200);
      await eventually(async () => (await deliveries(id)).find((d) => d.channel === 'push')?.status === 'sent');
      expect((await deliveries(id)).map((d) => d.channel).sort()).toEqual(['email', 'push']);
    });

    it('a 5xx from the push service is retried; a 410 deletes the subscription', async () => {
      const flaky = sinks.push.subscribe();
      const gone = sinks.push.subscribe();
      expect((await subscribe('h-mallory', subscription(flaky))).status).toBe(201);
      expect((await subscribe('h-mallory', subscription(gone))).status).toBe(201);
      sinks.push.respondWith(flaky.id, [503]);
      sinks.push.respondWith(gone.id, [410]);
      const id = await park({ approvers: ['user:h-mallory'] });
      await sinks.push.waitFor((d) => d.subscriptionId === flaky.id && d.status === 201 && (d.json as { auth_req_id?: string })?.auth_req_id === id);
      await eventually(async () => (await deliveries(id)).find((d) => d.channel === 'push')?.status === 'sent');
      const pushTries = (await attempts(id)).filter((a) => a.channel === 'push');
      expect(pushTries).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ attempt: 1, status: 'failed', error: expect.stringMatching(/^503/) }),
          expect.objectContaining({ attempt: 1, status: 'gone', error: expect.stringMatching(/^410/) }),
          expect.objectContaining({ attempt: 2, status: 'sent' }),
        ]),
      );
      const left = await sql<{ endpoint: string }>(env.db.url, `SELECT endpoint FROM push_subscriptions WHERE approver_id = 'h-mallory'`);
      expect(left.map((r) => r.endpoint)).toEqual([flaky.endpoint]);
    });

    it('a 404 deletes the subscription too, and an approver can remove their own subscription', async () => {
      const s = sinks.push.subscribe();
      const created = await subscribe('r-alice', subscription(s));
      const token = await linkFor('r-alice');
      expect((await call(api.url, 'DELETE', `/v1/push-subscriptions/${created.body.id}`, { token })).status).toBe(204);
      expect((await call(api.url, 'DELETE', `/v1/push-subscriptions/${created.body.id}`, { token })).status).toBe(404);

      const again = sinks.push.subscribe();
      expect((await subscribe('r-alice', subscription(again))).status).toBe(201);
      sinks.push.respondWith(again.id, [404]);
      const id = await park({ approvers: ['user:r-alice'] });
      await eventually(async () => (await attempts(id)).some((a) => a.channel === 'push' && a.status === 'gone'));
      expect(await sql(env.db.url, `SELECT 1 FROM push_subscriptions WHERE approver_id = 'r-alice'`)).toEqual([]);
    });

    it('consecutive pushes to one push service reuse one kept-alive TLS connection', async () => {
      const s = sinks.push.subscribe();
      expect((await subscribe('u20', subscription(s))).status).toBe(201);
      const before = sinks.push.secureConnections;
      const pushes = [];
      // One after another, so that each push finds the previous one's connection idle.
      for (let i = 0; i < 3; i++) {
        const id = await park({ approvers: ['user:u20'] });
        pushes.push(await sinks.push.waitFor((d) => d.subscriptionId === s.id && (d.json as { auth_req_id?: string })?.auth_req_id === id));
      }
      expect(new Set(pushes.map((p) => p.connection)).size).toBe(1);
      // At most the one it arrived over (an earlier test's connection may still have been idle and reused).
      expect(sinks.push.secureConnections - before).toBeLessThanOrEqual(1);
    });

    describe('push service addresses (SSRF by name)', () => {
      const answers = INTERNAL_NAME_ANSWERS;
      let own: TestEnvironment;
      let app: TestApp;
      let lookups: string[];
      // push.test answers 127.0.0.1 (the list names it, on the push service's port) the first time,
      // then an internal address: DNS rebinding. Only the first answer may be used to connect.
      let pushAnswers: ResolvedAddress[][];
      const realResolve = HostResolver.prototype.resolve;

      /** Subscribes `approver` through `on` with the test push service's endpoint under another host name, parks a request for them. */
      const pushVia = async (on: TestApp, approver: string, host: string) => {
        const s = sinks.push.subscribe();
        const endpoint = s.endpoint.replace('//127.0.0.1:', `//${host}:`);
        const unrelatedId = await parkApproval(on, gateway, parkBody({ obligation: { ...parkBody().obligation, approvers: ['user:u99'] } }));
        const token = await signedLink(on.app, { id: unrelatedId, approver });
        const res = await call(on.url, 'POST', '/v1/push-subscriptions', { token, body: { endpoint, expirationTime: null, keys: s.keys } });
        expect(res.status).toBe(201);
        const body = parkBody();
        const id = await parkApproval(on, gateway, { ...body, obligation: { ...body.obligation, approvers: [`user:${approver}`] } });
        return { s, id };
      };
      const pushTries = (dbUrl: string, id: string) =>
        sql<{ status: string; error: string | null }>(
          dbUrl,
          `SELECT a.status, a.error FROM notification_attempts a JOIN notification_deliveries d ON d.id = a.delivery_id
            WHERE d.approval_id = $1 AND a.channel = 'push' ORDER BY a.id`,
          [id],
        );

      beforeAll(async () => {
        jest.spyOn(HostResolver.prototype, 'resolve').mockImplementation(async function (this: HostResolver, host: string) {
          lookups.push(host);
          if (host === 'push.test') return pushAnswers.shift() ?? [{ address: '10.0.0.6', family: 4 }];
          return answers[host] ?? realResolve.call(this, host);
        });
        own = await testEnvironment();
        const port = sinks.push.port;
        app = await own.start({
          ...sinks.config,
          ...(await selfLinked()),
          PUSH_SERVICE_HOSTS: ['push.test', 'internal.test', 'metadata.test', 'loopback6.test', 'mixed.test', '127.0.0.1'].map((h) => `${h}:${port}`).join(','),
        });
      });
      beforeEach(() => {
        lookups = [];
        pushAnswers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.0.0.6', family: 4 }]];
      });
      afterAll(async () => {
        await own?.teardown();
        jest.restoreAllMocks();
      });

      it.each([
        ['internal.test', '10.0.0.5', 'u10'],
        ['metadata.test', '169.254.169.254', 'u11'],
        ['loopback6.test', '::1', 'u12'],
        ['mixed.test', '192.168.0.10', 'u13'],
      ])('a listed push service name that resolves to an internal address (%s → %s) is refused without a request', async (host, address, approver) => {
        const { s, id } = await pushVia(app, approver, host);
        const [tried] = await eventually(async () => {
          const rows = await pushTries(own.db.url, id);
          return rows.length > 0 && rows;
        });
        expect(tried.status).toBe('failed');
        expect(tried.error).toContain(`resolves to ${address}`);
        expect(lookups).toContain(host);
        expect(sinks.push.attempts.filter((a) => a.subscriptionId === s.id)).toEqual([]);
      });

      it('pushes to the address that was checked, with the name for TLS and VAPID, and never resolves the name again', async () => {
        const { s, id } = await pushVia(app, 'u14', 'push.test');
        const push = await sinks.push.waitFor((d) => d.subscriptionId === s.id && (d.json as { auth_req_id?: string })?.auth_req_id === id);
        expect(push.vapid.aud).toBe(`https://push.test:${sinks.push.port}`);
        await eventually(async () => (await pushTries(own.db.url, id)).some((t) => t.status === 'sent'));
        expect(lookups.filter((h) => h === 'push.test')).toEqual(['push.test']);
        expect(pushAnswers).toHaveLength(1);
      });

      it('"localhost" on the list by name does not open loopback: the real resolver\'s answer is checked', async () => {
        jest.mocked(HostResolver.prototype.resolve).mockImplementation(realResolve);
        const local = await testEnvironment();
        try {
          const only = await local.start({ ...sinks.config, ...(await selfLinked()), PUSH_SERVICE_HOSTS: `localhost:${sinks.push.port}` });
          const { s, id } = await pushVia(only, 'u15', 'localhost');
          const [tried] = await eventually(async () => {
            const rows = await pushTries(local.db.url, id);
            return rows.length > 0 && rows;
          });
          expect(tried.status).toBe('failed');
          expect(tried.error).toMatch(/resolves to (127\.0\.0\.1|::1)/);
          expect(sinks.push.attempts.filter((a) => a.subscriptionId === s.id)).toEqual([]);
        } finally {
          await local.teardown();
        }
      });
    });
  });

  describe('escalation and reminders', () => {
    it('after escalate_after, the escalation approvers are notified (a delayed job) and may vote', async () => {
      const id = await park({ approvers: ['user:bob'], escalate_after: 1, escalate_to: ['group:security'], expires_in: 60 });
      await mailFor('bob@acme.example', id);
      const parkedAt = Date.now();
      const [erin] = await Promise.all([mailFor('erin@acme.example', id, 5000), mailFor('dave@acme.example', id, 5000)]);
      expect(erin.receivedAt - parkedAt).toBeGreaterThan(500);
      expect(erin.parsed.subject).toMatch(/^\[Countersign\] Escalated: approval needed/);
      expect(mailsAbout(id).filter((m) => m.envelope.to.includes('bob@acme.example'))).toHaveLength(1);
      const escalated = (await auditTypes(env.db.url, id)).find((e) => e.type === 'approval.escalated')!;
      expect(escalated.data.recipients.map((r: { approver: string }) => r.approver).sort()).toEqual(['dave', 'erin']);
      expect((await vote(id, 'erin', 'approve', 'security')).body.status).toBe('approved');
    });

    it('a request decided before escalate_after sends no escalation and no further notifications', async () => {
      const id = await park({ approvers: ['user:bob'], escalate_after: 1, escalate_to: ['user:erin'], remind_after: 1, expires_in: 60 });
      await mailFor('bob@acme.example', id);
      expect((await vote(id, 'bob', 'approve')).body.status).toBe('approved');
      await sleep(2500);
      expect(mailsAbout(id).map((m) => m.envelope.to[0])).toEqual(['bob@acme.example']);
      expect(await sql(env.db.url, `SELECT round FROM notification_rounds WHERE approval_id = $1`, [id])).toEqual([{ round: 'initial' }]);
      expect((await auditTypes(env.db.url, id)).map((e) => e.type)).not.toContain('approval.escalated');
    });

    it('a reminder goes only to the approvers who have not voted yet', async () => {
      const id = await park({ approvers: ['user:bob', 'user:carol'], quorum: 2, remind_after: 2, expires_in: 60 });
      await Promise.all([mailFor('bob@acme.example', id), mailFor('carol@acme.example', id)]);
      expect((await vote(id, 'bob', 'approve')).body.status).toBe('pending');
      const reminder = await sinks.mail.waitFor(
        (m) => (m.parsed.subject ?? '').startsWith('[Countersign] Reminder') && (m.parsed.text ?? '').includes(id),
        6000,
      );
      expect(reminder.envelope.to).toEqual(['carol@acme.example']);
      // In the request's thread, as an answer to it, under a Message-ID of its own.
      expect(reminder.parsed.inReplyTo).toBe(`<${id}@countersign.test>`);
      expect(reminder.parsed.references).toBe(`<${id}@countersign.test>`);
      const first = await mailFor('carol@acme.example', id);
      expect(reminder.parsed.messageId).toMatch(new RegExp(`^<${id}\\.\\d+@countersign\\.test>$`));
      expect(reminder.parsed.messageId).not.toBe(first.parsed.messageId);
      await sleep(300);
      expect(mailsAbout(id).filter((m) => m.envelope.to.includes('bob@acme.example'))).toHaveLength(1);
    });

    it('an escalation or reminder that could only fire after expiry is refused at park time', async () => {
      const body = parkBody();
      body.obligation = { ...body.obligation, expires_in: 60, escalate_after: 60, escalate_to: ['user:erin'] };
      const res = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('obligation.escalate_after');
      body.obligation = { ...body.obligation, escalate_after: 10, escalate_to: undefined };
      delete body.obligation.escalate_to;
      const half = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(half.status).toBe(400);
      expect(half.body.field).toBe('obligation.escalate_to');
    });
  });

  describe('separation of duties', () => {
    it('the delegating human and the agent operator are not notified and cannot vote; others can', async () => {
      await sql(env.db.url, `INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ('acme', 'owners', 'Owners')`);
      await sql(
        env.db.url,
        `INSERT INTO approver_group_members (tenant_id, group_name, approver_id) VALUES ('acme','owners','alice'), ('acme','owners','gina'), ('acme','owners','carol')`,
      );
      const body = parkBody();
      body.agent = { ...body.agent, operator: 'gina' };
      body.obligation = { approvers: ['group:owners'], quorum: 1, independent_approvers: true };
      const res = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(res.status).toBe(200);
      const id = res.body.auth_req_id;
      await mailFor('carol@acme.example', id);
      await sleep(300);
      expect(mailsAbout(id).map((m) => m.envelope.to[0])).toEqual(['carol@acme.example']);
      for (const who of ['alice', 'gina']) {
        const denied = await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, {
          token: await rawLink(id, who, { grp: 'owners' }),
          body: { decision: 'approve', reason: 'mine' },
        });
        expect(denied.status).toBe(403);
        expect(denied.body.error_description).toMatch(/separation of duties/);
      }
      expect(await sql(env.db.url, `SELECT 1 FROM approval_votes WHERE approval_id = $1`, [id])).toEqual([]);
      expect((await vote(id, 'carol', 'approve', 'owners')).body.status).toBe('approved');
    });

    it('a quorum that only the excluded people could reach is a 400, and "delegator" cannot be an independent approver', async () => {
      const body = parkBody();
      body.agent = { ...body.agent, operator: 'bob' };
      body.obligation = { approvers: ['user:bob', 'user:carol'], quorum: 2, independent_approvers: true };
      const res = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(res.status).toBe(400);
      expect(res.body.field).toBe('obligation.quorum');
      expect(res.body.error_description).toMatch(/only 1 distinct approver/);
      body.obligation = { approvers: ['user:carol', 'delegator'], quorum: 1, independent_approvers: true };
      const withDelegator = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
      expect(withDelegator.status).toBe(400);
      expect(withDelegator.body.field).toBe('obligation.approvers[1]');
    });
  });

  it("a group member's link stops working once they leave the group", async () => {
    await sql(env.db.url, `INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ('acme', 'treasury', 'Treasury')`);
    await sql(env.db.url, `INSERT INTO approver_group_members (tenant_id, group_name, approver_id) VALUES ('acme','treasury','u1'), ('acme','treasury','u2')`);
    const id = await park({ approvers: ['group:treasury'] });
    const link = await api.app.get(ApproverLinks).mint({ tenantId: 'acme', approvalId: id, approverId: 'u1', viaGroup: 'treasury' });
    await sql(env.db.url, `DELETE FROM approver_group_members WHERE tenant_id = 'acme' AND group_name = 'treasury' AND approver_id = 'u1'`);
    const res = await call(api.url, 'POST', `/v1/approvals/${id}/decisions`, { token: link.token, body: { decision: 'approve', reason: 'ok' } });
    expect(res.status).toBe(403);
    expect(res.body.error_description).toMatch(/no longer a member of group treasury/);
  });

  it('a delivery whose request was decided meanwhile is skipped, not sent', async () => {
    const id = await park({ approvers: ['user:u3', 'user:u4'] });
    await eventually(async () => (await deliveries(id)).length === 2 && (await deliveries(id)).every((d) => d.status === 'sent'));
    expect((await vote(id, 'u3', 'approve')).body.status).toBe('approved');
    // A late delivery (a reminder's, or one the reconciler re-queued) for the decided request:
    await sql(env.db.url, `UPDATE notification_deliveries SET status = 'queued' WHERE approval_id = $1 AND approver_id = 'u4'`, [id]);
    const [row] = await deliveries(id).then((rows) => rows.filter((r) => r.approver_id === 'u4'));
    await sql(env.db.url, `DELETE FROM notification_attempts WHERE delivery_id = $1`, [row.id]);
    const before = mailsAbout(id).length;
    const queue = new Queue(NotificationQueue.Deliveries, { connection: { url: REDIS_URL }, prefix: `${env.redisPrefix}-bull` });
    try {
      await (await queue.getJob(`delivery-${row.id}`))?.remove();
      await api.app.get(NotificationJobs).scheduleDeliveries([{ id: row.id, tenantId: 'acme', channel: 'email' }]);
    } finally {
      await queue.close();
    }
    await eventually(async () => (await deliveries(id)).find((r) => r.approver_id === 'u4')?.status === 'skipped');
    expect(mailsAbout(id)).toHaveLength(before);
    expect((await attempts(id)).filter((a) => a.approver_id === 'u4').map((a) => [a.status, a.error])).toEqual([['skipped', 'the request is approved']]);
  });
});
