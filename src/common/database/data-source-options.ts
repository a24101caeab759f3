import { Client, ClientConfig } from 'pg';
import { DataSourceOptions } from 'typeorm';
import { migrations } from '../../../migrations';

/**
 * Each session plans a named prepared statement once, generically, instead of planning it again
 * for every call's values (Postgres's default keeps doing so whenever the generic plan's estimate
 * looks worse, as it did for the delivery's load: 0.37 ms of planning on each of 1,500 loads in
 * a cycle run). Safe because every hot named statement's generic plan is checked to reach its
 * rows by key (test/common/generic-plans.e2e-spec.ts). Sent as a startup option, so only with
 * prepared statements in `session` mode: a transaction pooler refuses or drops startup options.
 */
const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan';

/**
 * One definition for the app, the migrate CLI and the tests. Schema changes only through the
 * hand-written migrations in migrations/ (never `synchronize`); entities are registered by
 * each part of the domain with TypeOrmModule.forFeature.
 */
export function dataSourceOptions(databaseUrl: string, poolSize = 20, poolWaitMs = 10_000, plans: { generic?: boolean } = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // A connection not free within poolWaitMs is an error (answered 503), not an endless wait.
    extra: {
      max: poolSize,
      connectionTimeoutMillis: poolWaitMs,
      Client: ListenedClient,
      ...(plans.generic ? { options: GENERIC_PLANS } : {}),
    },
  };
}

/**
 * A pooled connection that always has a listener for its 'error' event. pg-pool takes its own
 * listener off a client as it hands it to a waiting caller, and TypeORM puts its own on a
 * microtask later; a Postgres FATAL (a restart, pg_terminate_backend) that arrives in the same
 * socket read as the reply that freed the client was emitted with no listener at all, which
 * throws out of the socket's handler: an uncaught exception that can take the process down.
 * Nothing more is needed here: the client is already marked not queryable, so its next query
 * fails as an outage (503) and the pool drops it when it comes back.
 */
export class ListenedClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}
