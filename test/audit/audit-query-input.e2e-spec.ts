import { call } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';
import { gatewayToken } from '../support/keys';

/** Filters that zod accepts as written but Postgres would refuse: each is a 400 or an answer, never a 500. */
describe('audit query filters at the edges of what Postgres stores', () => {
  let env: TestEnvironment;
  let app: TestApp;
  let token: string;

  beforeAll(async () => {
    env = await testEnvironment();
    app = await env.start({ RUN_WORKERS: 'false' });
    token = await gatewayToken({ tenant: 'acme', sub: 'auditor', scope: 'countersign:audit' });
  });
  afterAll(() => env.teardown());

  const get = (path: string) => call(app.url, 'GET', path, { token });

  it.each(['/v1/audit', '/v1/audit/export'])('%s reads a time with an offset beyond ±15:59 as the instant it names', async (path) => {
    for (const from of ['2026-02-11T20:26:13+23:33', '2026-02-11T20:26:13-16:00', '5164-02-11T20:26:13.59733645383+23:33']) {
      const res = await get(`${path}?from=${encodeURIComponent(from)}`);
      expect({ from, status: res.status }).toEqual({ from, status: 200 });
    }
  });

  it.each(['/v1/audit', '/v1/audit/export'])('%s refuses the year 0000 and a cursor past the largest id as invalid_request', async (path) => {
    for (const query of [
      'to=0000-01-01T00:00:00Z',
      'from=0000-06-01T00:00:00%2B01:00',
      'cursor=9999999999999999999',
      'cursor=9223372036854775808',
      'cursor=key',
      'cursor=12345678901234567890123',
    ]) {
      const res = await get(`${path}?${query}`);
      expect({ query, status: res.status, error: res.body?.error }).toEqual({ query, status: 400, error: 'invalid_request' });
    }
    expect((await get(`${path}?cursor=9223372036854775807`)).status).toBe(200);
  });
});
