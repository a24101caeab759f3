import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { RedisConnections } from '../common/redis/redis-connections';

/** Redis answers a PING on the service's command connection. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly redis: RedisConnections,
  ) {}

  pingCheck<const Key extends string>(key: Key, timeoutMs = 1_000) {
    return this.health
      .check(key)
      .attempt(async () => {
        const reply = await this.redis.commands.ping();
        if (reply !== 'PONG') throw new Error(`unexpected PING reply: ${reply}`);
      })
      .withTimeout(timeoutMs);
  }
}

/** The names TypeORM records in the migrations table: each migration's `name`, else its class name. */
export function expectedMigrationNames(): string[] {
  return migrations.map((M) => (new M() as { name?: string }).name ?? M.name);
}

/**
 * The schema is current: every migration this build ships is recorded in TypeORM's
 * `migrations` table. Rows the build does not know (a newer build migrated first) are fine.
 */
@Injectable()
export class MigrationsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  isUpToDate<const Key extends string>(key: Key, timeoutMs = 2_000) {
    return this.health
      .check(key)
      .attempt(async () => {
        const table = this.dataSource.options.migrationsTableName ?? 'migrations';
        const rows: { name: string }[] = await this.dataSource.query(`SELECT name FROM "${table.replace(/"/g, '""')}"`);
        const applied = new Set(rows.map((r) => r.name));
        const expected = this.dataSource.migrations.map((m) => m.name ?? m.constructor.name);
        const pending = expected.filter((name) => !applied.has(name));
        if (pending.length) throw new Error(`migrations not applied: ${pending.join(', ')}`);
        return { applied: expected.length };
      })
      .withTimeout(timeoutMs);
  }
}
