import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/common/database/data-source-options';
import { createTemplate } from './database';
import { prepareTestKeys } from './keys';

/** Once per run: a freshly migrated template database, and the test keys. */
export default async function globalSetup(): Promise<void> {
  await createTemplate(async (url) => {
    const ds = await new DataSource(dataSourceOptions(url, 2)).initialize();
    await ds.runMigrations({ transaction: 'each' });
    await ds.destroy();
  });
  await prepareTestKeys();
}
