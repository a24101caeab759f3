import { Agent, request } from 'node:https';
import { createTransport } from 'nodemailer';
import webpush, { WebPushError } from 'web-push';
import { Browser } from 'playwright-core';
import { MailSink } from './mail-sink';
import { PushService } from './push-service';
import { launchBrowser, PHONE_VIEWPORT } from './browser';

describe('test sinks are real servers', () => {
  describe('MailSink', () => {
    let sink: MailSink;
    beforeAll(async () => {
      sink = await MailSink.start();
    });
    afterAll(async () => {
      await sink?.close();
    });
    beforeEach(() => sink.clear());

    const transport = () => createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });

    it('receives and parses a multipart message over SMTP', async () => {
      expect(sink.url).toBe(`smtp://127.0.0.1:${sink.port}`);
      const t = transport();
      await t.sendMail({
        from: 'Countersign <noreply@example.com>',
        to: ['alice@example.com', 'bob@example.com'],
        subject: 'Approve tool call?',
        text: 'Plain body',
        html: '<p>HTML <b>body</b></p>',
      });
      t.close();

      const mail = await sink.waitFor((m) => m.parsed.subject === 'Approve tool call?');
      expect(mail.envelope).toEqual({ from: 'noreply@example.com', to: ['alice@example.com', 'bob@example.com'] });
      expect(mail.parsed.text?.trim()).toBe('Plain body');
      expect(mail.parsed.html).toBe('<p>HTML <b>body</b></p>');
      expect(mail.parsed.from?.value).toEqual([{ address: 'noreply@example.com', name: 'Countersign' }]);
      const to = Array.isArray(mail.parsed.to) ? mail.parsed.to : [mail.parsed.to];
      expect(to.flatMap((a) => a?.value.map((v) => v.address))).toEqual(['alice@example.com', 'bob@example.com']);
      expect(typeof mail.receivedAt).toBe('number');
    });

    it('failNext refuses the next message with a temporary error, then accepts again', async () => {
      sink.failNext(1);
      const t = transport();
      const msg = { from: 'noreply@example.com', to: 'carol@example.com', subject: 'retry me', text: 'x' };
      await expect(t.sendMail(msg)).rejects.toMatchObject({ responseCode: 451 });
      expect(sink.messages).toHaveLength(0);

      await t.sendMail(msg);
      t.close();
      const all = await sink.waitForCount(1, (m) => m.parsed.subject === 'retry me');
      expect(all).toHaveLength(1);
    });

    it('waitFor times out with the subjects seen so far', async () => {
      const t = transport();
      await t.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'only this one', text: 'x' });
      t.close();
      await expect(sink.waitFor((m) => m.parsed.subject === 'never', 50)).rejects.toThrow(/"only this one"/);
    });
  });

  describe('PushService', () => {
    let push: PushService;
    let agent: Agent;
    const vapid = webpush.generateVAPIDKeys();
    const vapidDetails = { subject: 'mailto:ops@example.com', publicKey: vapid.publicKey, privateKey: vapid.privateKey };

    beforeAll(async () => {
      push = await PushService.start({ vapidPublicKey: vapid.publicKey });
      agent = new Agent({ ca: push.caPem });
    });
    afterAll(async () => {
      agent?.destroy();
      await push?.close();
    });

    it('verifies VAPID and decrypts the exact payload', async () => {
      const sub = push.subscribe();
      expect(sub.endpoint).toBe(`${push.origin}/push/${sub.id}`);
      expect(Buffer.from(sub.keys.p256dh, 'base64url')).toHaveLength(65);
      expect(Buffer.from(sub.keys.auth, 'base64url')).toHaveLength(16);

      const payload = JSON.stringify({ title: 'Approval needed', body: 'deploy → prod ✓', id: 42 });
      const before = Math.floor(Date.now() / 1000);
      const res = await webpush.sendNotification(sub, payload, { vapidDetails, TTL: 60, urgency: 'high', topic: 'approval42', agent });
      expect(res.statusCode).toBe(201);

      const d = await push.waitFor((x) => x.subscriptionId === sub.id);
      expect(d.payload).toBe(payload);
      expect(d.json).toEqual({ title: 'Approval needed', body: 'deploy → prod ✓', id: 42 });
      expect(d).toMatchObject({ status: 201, ttl: 60, urgency: 'high', topic: 'approval42' });
      expect(d.vapid.sub).toBe('mailto:ops@example.com');
      expect(d.vapid.aud).toBe(push.origin);
      expect(d.vapid.k).toBe(vapid.publicKey);
      expect(d.vapid.exp).toBeGreaterThan(before);
      expect(d.vapid.exp).toBeLessThanOrEqual(before + 24 * 3600 + 5);
      expect(push.attempts.filter((a) => a.subscriptionId === sub.id)).toEqual([expect.objectContaining({ status: 201 })]);
    });

    it('a non-JSON payload is kept as text', async () => {
      const sub = push.subscribe();
      await webpush.sendNotification(sub, 'plain text', { vapidDetails, TTL: 0, agent });
      const d = await push.waitFor((x) => x.subscriptionId === sub.id);
      expect(d).toMatchObject({ payload: 'plain text', json: undefined, ttl: 0 });
    });

    it('a VAPID key other than the expected one gets 401', async () => {
      const sub = push.subscribe();
      const other = webpush.generateVAPIDKeys();
      const err = await webpush.sendNotification(sub, 'hello', { vapidDetails: { ...vapidDetails, ...other }, TTL: 60, agent }).then(
        () => undefined,
        (e: WebPushError) => e,
      );
      expect(err).toBeInstanceOf(WebPushError);
      expect(err?.statusCode).toBe(401);
      expect(push.received.filter((x) => x.subscriptionId === sub.id)).toHaveLength(0);
      expect(push.rejected).toContainEqual(expect.objectContaining({ subscriptionId: sub.id, status: 401 }));
    });

    it('respondWith queues statuses: 410, then 503 and 201', async () => {
      const sub = push.subscribe();
      push.respondWith(sub.id, [410, 503]);
      await expect(webpush.sendNotification(sub, 'one', { vapidDetails, TTL: 60, agent })).rejects.toMatchObject({ statusCode: 410 });
      await expect(webpush.sendNotification(sub, 'two', { vapidDetails, TTL: 60, agent })).rejects.toMatchObject({ statusCode: 503 });
      await expect(webpush.sendNotification(sub, 'three', { vapidDetails, TTL: 60, agent })).resolves.toMatchObject({ statusCode: 201 });

      expect(push.attempts.filter((a) => a.subscriptionId === sub.id).map((a) => a.status)).toEqual([410, 503, 201]);
      expect(push.received.filter((x) => x.subscriptionId === sub.id).map((x) => [x.payload, x.status])).toEqual([
        ['one', 410],
        ['two', 503],
        ['three', 201],
      ]);
    });

    it('an unknown subscription gets 404', async () => {
      const sub = { ...push.subscribe(), endpoint: `${push.origin}/push/does-not-exist` };
      await expect(webpush.sendNotification(sub, 'x', { vapidDetails, TTL: 60, agent })).rejects.toMatchObject({ statusCode: 404 });
      expect(push.attempts).toContainEqual(expect.objectContaining({ subscriptionId: 'does-not-exist', status: 404 }));
    });
  });

  describe('PushService without an expected key', () => {
    it('accepts any valid VAPID key, but not a bad signature', async () => {
      const push = await PushService.start();
      const agent = new Agent({ ca: push.caPem });
      try {
        const sub = push.subscribe();
        const keys = webpush.generateVAPIDKeys();
        const details = { subject: 'https://example.com/contact', ...keys };
        await webpush.sendNotification(sub, 'ok', { vapidDetails: details, TTL: 5, agent });
        expect((await push.waitFor((d) => d.subscriptionId === sub.id)).vapid.sub).toBe('https://example.com/contact');

        // Signed by one key, claimed for another: the JWT signature no longer verifies.
        const other = webpush.generateVAPIDKeys();
        const headers = webpush.getVapidHeaders(push.origin, details.subject, keys.publicKey, keys.privateKey, 'aes128gcm');
        const forged = headers.Authorization.replace(/k=[^,\s]+/, `k=${other.publicKey}`);
        const req = webpush.generateRequestDetails(sub, 'forged', { vapidDetails: details, TTL: 5 });
        const status = await new Promise<number>((resolve, reject) => {
          const r = request(req.endpoint, { method: req.method, agent, headers: { ...req.headers, Authorization: forged } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          r.on('error', reject);
          r.end(req.body);
        });
        expect(status).toBe(401);
        expect(push.rejected).toEqual([expect.objectContaining({ subscriptionId: sub.id, status: 401, reason: expect.stringMatching(/JWT rejected/) })]);
        expect(push.received.map((d) => d.payload)).toEqual(['ok']);
      } finally {
        agent.destroy();
        await push.close();
      }
    });
  });

  describe('browser', () => {
    let browser: Browser | undefined;
    afterAll(async () => {
      await browser?.close();
    });

    it('launches chromium and reads a page', async () => {
      browser = await launchBrowser();
      const page = await browser.newPage({ viewport: PHONE_VIEWPORT });
      await page.goto('data:text/html,<h1>hi</h1>');
      expect(await page.textContent('h1')).toBe('hi');
      await page.close();
    });
  });
});
