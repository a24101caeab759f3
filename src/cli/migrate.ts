import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../common/database/data-source-options';
import { exitOnConfigError } from '../bootstrap';
import { loadConfig } from '../config/app-config';

/** npm run migrate: applies pending migrations (the service also does this at start-up by default). */
async function main(): Promise<void> {
  let url: string;
  try {
    url = loadConfig({ ...process.env, DEMO_MODE: 'true' }).DATABASE_URL;
  } catch (e) {
    exitOnConfigError(e);
  }
  const ds = await new DataSource(dataSourceOptions(url, 2)).initialize();
  const applied = await ds.runMigrations({ transaction: 'each' });
  process.stdout.write(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}\n` : 'schema is up to date\n');
  await ds.destroy();
}

void main().catch((e) => {
  process.stderr.write(`migration failed: ${(e as Error).message}\n`);
  process.exit(1);
});
