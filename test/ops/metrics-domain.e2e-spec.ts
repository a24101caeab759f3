import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { voteAs } from '../support/approvals';
import { eventually } from '../support/callback-server';
import { OPERATORS, operatorToken, SCRAPER_SUBJECT } from './operators';

/** The domain's events reach /metrics: decisions, time to decision, callback failures. */
describe('metrics from the domain', () => {
  let env: TestEnvironment;
  let api: TestApp;
  let scraper: string;
  let gateway: string;

  beforeAll(async () => {
    env = await testEnvironment();
    api = await env.start({ ...OPERATORS, CALLBACK_MAX_ATTEMPTS: '1' });
    scraper = await operatorToken(SCRAPER_SUBJECT);
    gateway = await tenantToken('acme');
  });
  afterAll(() => env.teardown());

  const scrape = async () => (await call<string>(api.url, 'GET', '/metrics', { token: scraper })).body;
  const value = (text: string, series: RegExp) =>
    Number(
      text
        .split('\n')
        .find((l) => series.test(l))
        ?.split(' ')
        .pop() ?? 0,
    );

  it('an authorization decision counts by verdict and reason, with its latency', async () => {
    const res = await call(api.url, 'POST', '/v1/authorize', {
      token: gateway,
      body: { agent: { token: 'not-a-jwt' }, action: { server: 'docs', tool: 'read_document', arguments: {} } },
    });
    expect(res.status).toBe(403);
    const text = await scrape();
    expect(value(text, /^countersign_decisions_total\{verdict="deny",reason="[a-z_]+"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(text, /^countersign_decision_duration_seconds_count\{verdict="deny"\}/)).toBeGreaterThanOrEqual(1);
  });

  it('a settled approval observes its time to decision; a failed callback counts', async () => {
    const body = parkBody({ delivery: { mode: 'ping', notification_endpoint: 'http://127.0.0.1:9/closed', notification_token: 'tok' } });
    const parked = await call(api.url, 'POST', '/v1/approvals', { token: gateway, body });
    const id = parked.body.auth_req_id;
    expect((await voteAs(api, { approvalId: id, approverId: 'bob', decision: 'approve', reason: 'ok' })).body.status).toBe('approved');
    const text = await eventually(async () => {
      const t = await scrape();
      return value(t, /^countersign_callback_failures_total /) >= 1 && t;
    });
    expect(value(text, /^countersign_time_to_decision_seconds_count\{status="approved"\}/)).toBe(1);
  });
});
