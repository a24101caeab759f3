import { createServer, connect, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP pass-through to a Redis server that a test can cut and restore: what "Redis went away
 * under a running app" looks like. (An app started against an unreachable Redis never finishes
 * start-up: its pub/sub subscriptions wait for Redis.)
 */
export class RedisProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly upstream: URL) {}

  /** Listens on a free port; `url` is `upstreamUrl` with its host and port replaced by the proxy's. */
  static async start(upstreamUrl: string): Promise<RedisProxy> {
    const proxy = new RedisProxy(new URL(upstreamUrl));
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    const u = new URL(this.upstream.toString());
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Closes the port and every connection through it. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  restore(): Promise<void> {
    return this.listen();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.upstream.port || 6379), this.upstream.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}
