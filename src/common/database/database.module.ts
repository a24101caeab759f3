import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { usePreparedStatements } from './prepared-statements';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.DATABASE_URL, config.DATABASE_POOL_SIZE, config.DATABASE_POOL_WAIT_MS, {
          generic: config.DATABASE_PREPARED_STATEMENTS === 'session',
        }),
        autoLoadEntities: true,
        migrationsRun: config.DATABASE_MIGRATE_ON_START,
        retryAttempts: 3,
        retryDelay: 1000,
      }),
    }),
  ],
  providers: [
    {
      // Runs at start-up: whether this data source's hot statements are prepared (prepared-statements.ts).
      provide: 'PREPARED_STATEMENTS',
      inject: [DataSource, APP_CONFIG],
      useFactory: (dataSource: DataSource, config: AppConfig) => usePreparedStatements(dataSource, config.DATABASE_PREPARED_STATEMENTS),
    },
  ],
})
export class DatabaseModule {}
