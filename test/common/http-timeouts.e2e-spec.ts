import { connect } from 'node:net';
import { loadConfig } from '../../src/config/app-config';
import { call, parkBody, tenantToken } from '../support/api';
import { TestApp, testEnvironment, TestEnvironment } from '../support/app';

/** Opens a raw connection, sends `bytes` and never more; resolves with what came back and when the server closed it. */
function sendAndWait(url: string, bytes: string, giveUpMs: number): Promise<{ closedAfterMs: number | null; received: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    let t0 = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: null, received });
    }, giveUpMs);
    socket.on('connect', () => {
      t0 = Date.now();
      socket.write(bytes);
    });
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - t0, received });
    });
  });
}

/** The JSON body of a raw HTTP/1.1 response. */
const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('HTTP connections: timeouts, and what is refused before routing', () => {
  let env: TestEnvironment;
  let app: TestApp;

  beforeAll(async () => {
    env = await testEnvironment();
    app = await env.start({ HTTP_HEADERS_TIMEOUT_MS: '2000' });
  });
  afterAll(() => env.teardown());

  it('a connection that never finishes its headers is answered 408 and closed within HTTP_HEADERS_TIMEOUT_MS (+ the 1 s check)', async () => {
    const { closedAfterMs, received } = await sendAndWait(app.url, 'GET /health/live HTTP/1.1\r\nHost: countersign\r\nX-Slow: ', 15_000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs!).toBeGreaterThanOrEqual(1900);
    expect(closedAfterMs!).toBeLessThan(4500);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(received)).toEqual({ error: 'invalid_request', error_description: 'the request did not arrive in time' });
  }, 30_000);

  it('a connection that sent only part of its request line is closed just the same', async () => {
    const { closedAfterMs } = await sendAndWait(app.url, 'GET /heal', 15_000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs!).toBeLessThan(4500);
  }, 30_000);

  it("what Node's HTTP parser refuses is answered in the API's error shape, and the connection closed", async () => {
    const huge = await sendAndWait(app.url, `GET /health/live HTTP/1.1\r\nHost: countersign\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 10_000);
    expect(huge.closedAfterMs).not.toBeNull();
    expect(huge.received).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(bodyOf(huge.received)).toEqual({ error: 'invalid_request', error_description: 'the request headers are too large' });

    const garbled = await sendAndWait(app.url, 'GET /health/live HTTP/1.1\r\nHost countersign\r\n\r\n', 10_000);
    expect(garbled.closedAfterMs).not.toBeNull();
    expect(garbled.received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(bodyOf(garbled.received)).toEqual({ error: 'invalid_request', error_description: 'the request is malformed HTTP' });
  });

  it('a body in a content coding the API does not decode is refused 415 before it is read, naming the header', async () => {
    for (const coding of ['gzip', 'br', 'deflate, gzip']) {
      const res = await call(app.url, 'POST', '/v1/approvals', { token: await tenantToken(), body: parkBody(), headers: { 'content-encoding': coding } });
      expect({ status: res.status, body: res.body }).toEqual({
        status: 415,
        body: { error: 'invalid_request', error_description: expect.stringContaining('Content-Encoding'), field: 'content-encoding' },
      });
      expect(res.headers.get('accept-encoding')).toBe('identity');
    }
    const plain = await call(app.url, 'POST', '/v1/approvals', { token: await tenantToken(), body: parkBody(), headers: { 'content-encoding': 'identity' } });
    expect(plain.status).toBe(200);
  });

  it('a request timeout shorter than the longest long-poll is refused at start-up, naming the variable', () => {
    expect(() => loadConfig({ DEMO_MODE: 'true', HTTP_REQUEST_TIMEOUT_MS: '60000' })).toThrow(
      /HTTP_REQUEST_TIMEOUT_MS must be at least LONG_POLL_MAX_WAIT \+ 10 s \(70000\)/,
    );
    expect(() => loadConfig({ DEMO_MODE: 'true', HTTP_REQUEST_TIMEOUT_MS: '60000', LONG_POLL_MAX_WAIT: '30' })).not.toThrow();
  });
});
