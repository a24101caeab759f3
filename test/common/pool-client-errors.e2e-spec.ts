import { Client, Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { pgPool } from '../../src/common/database/prepared-statements';
import { openTestDataSource, TestDataSource } from '../support/database';

/**
 * A Postgres FATAL on a connection that no one is listening to (handed out by the pool, its new
 * holder not yet listening) must not throw out of the socket's handler: before ListenedClient,
 * a restart of Postgres under load could end the process with an unhandled 'error' event.
 */
describe('pooled connections whose backend is terminated', () => {
  let test: TestDataSource;
  let dataSource: DataSource;
  let admin: Client;

  beforeAll(async () => {
    test = await openTestDataSource(2);
    dataSource = test.ds;
    admin = new Client({ connectionString: test.db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await test?.close();
  });

  it('a checked-out connection with no listener of its own is terminated: nothing throws, the pool drops it and goes on', async () => {
    const pool = pgPool(dataSource) as unknown as Pool;
    // What a waiting TypeORM runner holds for a moment: pg-pool has taken its own listener off.
    const client: PoolClient = await pool.connect();
    const [{ pid }] = (await client.query('SELECT pg_backend_pid() AS pid')).rows as { pid: number }[];
    const ended = new Promise((resolve) => client.once('end', resolve));
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await ended;

    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release();
    expect(await dataSource.query('SELECT 41 + 1 AS n')).toEqual([{ n: 42 }]);
  });
});
