import { DataSourceOptions } from 'typeorm';
import { migrations } from '../../../migrations';

/**
 * One definition for the app, the migrate CLI and the tests. Schema changes only through the
 * hand-written migrations in migrations/ (never `synchronize`); entities are registered by
 * each part of the domain with TypeOrmModule.forFeature.
 */
export function dataSourceOptions(databaseUrl: string, poolSize = 20, poolWaitMs = 10_000): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // A connection not free within poolWaitMs is an error (answered 503), not an endless wait.
    extra: { max: poolSize, connectionTimeoutMillis: poolWaitMs },
  };
}
