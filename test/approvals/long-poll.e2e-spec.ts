import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { parkApproval, voteAs } from '../support/approvals';
import { auditTypes, eventually, requestRow, sleep } from '../support/callback-server';

describe('long-poll: GET /v1/approvals/:id?wait=N', () => {
  let env: TestEnvironment;
  let a: TestApp;
  let b: TestApp;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    // Two instances on one database and one Redis: what a scaled-out deployment looks like.
    a = await env.start();
    b = await env.start();
    gateway = await tenantToken('acme', 'gateway-1');
  });
  afterAll(() => env.teardown());

  async function park(obligation: Record<string, any> = {}): Promise<string> {
    const body = parkBody();
    body.obligation = { ...body.obligation, ...obligation };
    return parkApproval(a, gateway, body);
  }

  async function vote(app: TestApp, id: string, approverId: string, decision: 'approve' | 'deny', reason: string) {
    const res = await voteAs(app, { approvalId: id, approverId, decision, reason });
    expect(res.status).toBe(200);
    return res.body;
  }

  /** Starts a long-poll and reports when it answered, measured from when it was sent. */
  function longPoll(app: TestApp, id: string, wait: number | string, token = gateway) {
    const started = Date.now();
    return call(app.url, 'GET', `/v1/approvals/${id}?wait=${wait}`, { token }).then((res) => ({ ...res, elapsed: Date.now() - started, at: Date.now() }));
  }

  it('returns as soon as a vote decides the request, well before the wait is up', async () => {
    const id = await park();
    const waiting = longPoll(a, id, 5);
    await sleep(300);
    const votedAt = Date.now();
    await vote(a, id, 'bob', 'approve', 'checked');
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('approved');
    expect(res.body.votes.cast).toEqual([expect.objectContaining({ approver: 'bob', reason: 'checked' })]);
    expect(res.elapsed).toBeGreaterThanOrEqual(300);
    expect(res.at - votedAt).toBeLessThan(1000);
    expect(res.elapsed).toBeLessThan(2000);
  });

  it('a long-poll on instance A wakes when the decision is made through instance B', async () => {
    const id = await park();
    const waiting = longPoll(a, id, 10);
    await sleep(300);
    const votedAt = Date.now();
    await vote(b, id, 'carol', 'deny', 'not this vendor');
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('denied');
    expect(res.at - votedAt).toBeLessThan(1000);
    expect(res.elapsed).toBeLessThan(3000);
  });

  it('returns the request still pending once the wait is up', async () => {
    const id = await park();
    const res = await longPoll(b, id, 1);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('pending');
    expect(res.elapsed).toBeGreaterThanOrEqual(950);
    expect(res.elapsed).toBeLessThan(3000);
  });

  it('returns at once for a request that is already decided', async () => {
    const id = await park();
    await vote(a, id, 'bob', 'approve', 'ok');
    const res = await longPoll(b, id, 30);
    expect(res.body.status).toBe('approved');
    expect(res.elapsed).toBeLessThan(1000);
  });

  it.each([['61'], ['abc'], ['-1'], ['1.5']])('wait=%p is 400 naming `wait`', async (wait) => {
    const id = await park();
    const res = await call(a.url, 'GET', `/v1/approvals/${id}?wait=${wait}`, { token: gateway });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.field).toBe('wait');
  });

  it('an instance with LONG_POLL_MAX_WAIT=1 refuses longer waits and honours the maximum', async () => {
    const capped = await env.start({ LONG_POLL_MAX_WAIT: '1' });
    try {
      const id = await park();
      const refused = await longPoll(capped, id, 10);
      expect(refused.status).toBe(400);
      expect(refused.body.field).toBe('wait');
      const res = await longPoll(capped, id, 1);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('pending');
      expect(res.elapsed).toBeGreaterThanOrEqual(950);
      expect(res.elapsed).toBeLessThan(3000);
    } finally {
      await capped.close();
    }
  });

  it("another tenant's long-poll on this request is 404 at once", async () => {
    const id = await park();
    const res = await longPoll(a, id, 5, await tenantToken('globex', 'gateway-1'));
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
    expect(res.elapsed).toBeLessThan(1000);
  });

  describe('cancel (DELETE)', () => {
    it('wakes a waiting long-poll (on another instance) with status cancelled', async () => {
      const id = await park();
      const waiting = longPoll(a, id, 10);
      await sleep(300);
      const cancelledAt = Date.now();
      const cancel = await call(b.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway });
      expect(cancel.status).toBe(200);
      expect(cancel.body).toEqual({ auth_req_id: id, status: 'cancelled' });
      const res = await waiting;
      expect(res.body.status).toBe('cancelled');
      expect(res.at - cancelledAt).toBeLessThan(1000);
      expect((await requestRow(env.db.url, id)).status).toBe('cancelled');
      const events = await auditTypes(env.db.url, id);
      expect(events.filter((e) => e.type === 'approval.cancelled').map((e) => e.actor)).toEqual(['gateway:gateway-1']);
    });

    it('cancelling a decided request is 409 request_closed with its status, and changes nothing', async () => {
      const id = await park();
      await vote(a, id, 'bob', 'approve', 'ok');
      const res = await call(a.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ error: 'request_closed', status: 'approved' });
      expect((await requestRow(env.db.url, id)).status).toBe('approved');
    });

    it('cancelling twice is 409 request_closed the second time', async () => {
      const id = await park();
      expect((await call(a.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway })).status).toBe(200);
      const again = await call(a.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ error: 'request_closed', status: 'cancelled' });
      const events = await auditTypes(env.db.url, id);
      expect(events.filter((e) => e.type === 'approval.cancelled')).toHaveLength(1);
    });

    it('another tenant cannot cancel the request (404) and it stays pending', async () => {
      const id = await park();
      const res = await call(a.url, 'DELETE', `/v1/approvals/${id}`, { token: await tenantToken('globex', 'gateway-1') });
      expect(res.status).toBe(404);
      expect((await requestRow(env.db.url, id)).status).toBe('pending');
    });
  });

  describe('expiry', () => {
    it('wakes a long-poll when the request expires, and the expiry job marks the row expired with an audit event', async () => {
      const id = await park({ expires_in: 2 });
      const res = await longPoll(a, id, 10);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('expired');
      expect(res.body.expires_in).toBe(0);
      expect(res.elapsed).toBeGreaterThanOrEqual(1500);
      expect(res.elapsed).toBeLessThan(4000);

      // GET only reads; the row is changed by the BullMQ expiry job.
      const row = await eventually(async () => {
        const r = await requestRow(env.db.url, id);
        return r.status === 'expired' ? r : undefined;
      }, 10_000);
      expect(row.decided_at).not.toBeNull();
      const events = await auditTypes(env.db.url, id);
      const expired = events.filter((e) => e.type === 'approval.expired');
      expect(expired).toHaveLength(1);
      expect(expired[0].actor).toBe('system');
    });

    it('the expiry job alone expires a request nobody is watching', async () => {
      const id = await park({ expires_in: 1 });
      await eventually(async () => (await requestRow(env.db.url, id)).status === 'expired', 10_000);
      const events = await auditTypes(env.db.url, id);
      expect(events.filter((e) => e.type === 'approval.expired')).toHaveLength(1);
      // Settled for good: the gateway can no longer cancel it either.
      const cancel = await call(b.url, 'DELETE', `/v1/approvals/${id}`, { token: gateway });
      expect(cancel.status).toBe(409);
      expect(cancel.body).toMatchObject({ error: 'request_closed', status: 'expired' });
    });
  });
});
