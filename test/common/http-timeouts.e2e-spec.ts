import { connect } from 'node:net';
import { loadConfig } from '../../src/config/app-config';
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

describe('HTTP connection timeouts', () => {
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
  }, 30_000);

  it('a connection that sent only part of its request line is closed just the same', async () => {
    const { closedAfterMs } = await sendAndWait(app.url, 'GET /heal', 15_000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs!).toBeLessThan(4500);
  }, 30_000);

  it('a request timeout shorter than the longest long-poll is refused at start-up, naming the variable', () => {
    expect(() => loadConfig({ DEMO_MODE: 'true', HTTP_REQUEST_TIMEOUT_MS: '60000' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS must be at least LONG_POLL_MAX_WAIT \+ 10 s \(70000\)/);
    expect(() => loadConfig({ DEMO_MODE: 'true', HTTP_REQUEST_TIMEOUT_MS: '60000', LONG_POLL_MAX_WAIT: '30' })).not.toThrow();
  });
});
