import { DataSourceOptions } from 'typeorm';
import { migrations } from '../../../migrations';

/**
 * One definition for the app, the migrate CLI and the tests. Schema changes only through the
 * hand-written migrations in migrations/ (never `synchronize`); entities are registered by
 * each part of the domain with TypeOrmModule.forFeature.
 */
export function dataSourceOptions(databaseUrl: string, poolSize = 20): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    extra: { max: poolSize },
  };
}
