import 'reflect-metadata';
import { boundShutdown, createWorkerContext, exitOnConfigError, resolveConfig } from './bootstrap';

async function main(): Promise<void> {
  const config = await resolveConfig().catch(exitOnConfigError);
  await createWorkerContext({ ...config, RUN_WORKERS: true }).catch(exitOnConfigError);
  boundShutdown(config, { warn: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write('Countersign worker running\n');
}

void main();
