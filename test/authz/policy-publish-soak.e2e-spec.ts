import { PolicyEngine } from '../../src/authz/policy/policy-engine';
import { adminToken, call, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { agentToken } from '../support/keys';
import { thirtyNinePolicies as thirtyNine } from '../../bench/fixtures/thirty-nine-policies';

describe('publishing and activating policy sets again and again', () => {
  let env: TestEnvironment;
  let app: TestApp;

  beforeAll(async () => {
    env = await testEnvironment();
    app = await env.start();
  });
  afterAll(() => env.teardown());

  it('150 publish-activate-authorize cycles of a 39-policy set keep the pre-parsed sets bounded by the engines alive', async () => {
    const admin = await adminToken();
    const gateway = await tenantToken();
    const agent = await agentToken({ actors: ['scheduler'] });
    const authorize = () =>
      call(app.url, 'POST', '/v1/authorize', {
        token: gateway,
        body: { agent: { token: agent }, action: { server: 'calendar', tool: 'list_events', arguments: {} }, correlation: { mcp_session_id: 's-soak' } },
      });
    const rss: number[] = [];
    let ids = 0;
    for (let n = 1; n <= 150; n++) {
      const published = await call(app.url, 'POST', '/v1/policies', { token: admin, body: { policies: thirtyNine(n), activate: true } });
      expect(published.body).toMatchObject({ version: n, active: true });
      // The activated version is compiled by the next decision.
      expect((await authorize()).body).toMatchObject({ policy: { version: n } });
      const sets = PolicyEngine.preparsedSets();
      // One engine is alive for the tenant; the starter set for the others; nothing else holds a set.
      expect(sets.held).toBeLessThanOrEqual(2);
      if (n === 10) ids = sets.ids;
      rss.push(process.memoryUsage().rss);
    }
    // No new ids after warm-up: every compile reused one given back by the engine it replaced.
    expect(PolicyEngine.preparsedSets().ids).toBe(ids);
    const perCycle = (rss[149] - rss[29]) / 120 / 1e6;
    process.stdout.write(`RSS growth over cycles 30-150: ${perCycle.toFixed(3)} MB per publish\n`);
  }, 300_000);
});
