import { randomBytes } from 'node:crypto';
import { RedisConnections } from '../../src/common/redis/redis-connections';
import { AppConfig } from '../../src/config/app-config';
import { REDIS_URL } from '../support/app';

/**
 * The commands connection pipelines by itself: the commands that the requests served in one turn
 * of the event loop send (a decision's session counters, a rate limit) go to Redis in one write,
 * and each still gets its own reply.
 */
describe('RedisConnections: the commands connection', () => {
  let connections: RedisConnections;
  const prefix = `cstest-conn-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    connections = new RedisConnections({ REDIS_URL, REDIS_PREFIX: prefix } as AppConfig);
    await connections.commands.ping();
  });
  afterAll(async () => {
    const keys = await connections.commands.keys(`${prefix}:*`);
    if (keys.length) await connections.commands.del(...keys);
    await connections.onApplicationShutdown();
  });

  /** Counts the writes on the connection's socket while `work` runs. */
  async function writesDuring(work: () => Promise<unknown>): Promise<number> {
    const stream = connections.commands.stream;
    const write = jest.spyOn(stream, 'write');
    try {
      await work();
      return write.mock.calls.length;
    } finally {
      write.mockRestore();
    }
  }

  it('sends the commands issued in one turn in one write, each answered with its own reply', async () => {
    const keys = [1, 2, 3, 4, 5].map((i) => connections.key(`k${i}`));
    await Promise.all(keys.map((k, i) => connections.commands.set(k, `v${i}`)));
    let values: (string | null)[] = [];
    const writes = await writesDuring(async () => {
      values = await Promise.all(keys.map((k) => connections.commands.get(k)));
    });
    expect(values).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    expect(writes).toBe(1);
  });

  it('runs scripts pipelined this way after Redis has forgotten them', async () => {
    connections.commands.defineCommand('cstestEchoKey', { numberOfKeys: 1, lua: 'return {KEYS[1], ARGV[1]}' });
    const echo = (connections.commands as unknown as Record<string, (key: string, arg: string) => Promise<string[]>>).cstestEchoKey.bind(connections.commands);
    await connections.commands.script('FLUSH');
    await expect(Promise.all(['a', 'b', 'c'].map((x) => echo(connections.key(x), x)))).resolves.toEqual([
      [connections.key('a'), 'a'],
      [connections.key('b'), 'b'],
      [connections.key('c'), 'c'],
    ]);
  });
});
