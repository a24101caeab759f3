import 'reflect-metadata';
import { createWorkerContext, exitOnConfigError, resolveConfig } from './bootstrap';

async function main(): Promise<void> {
  const config = await resolveConfig().catch(exitOnConfigError);
  await createWorkerContext({ ...config, RUN_WORKERS: true }).catch(exitOnConfigError);
  process.stdout.write('Countersign worker running\n');
}

void main();
