import 'reflect-metadata';
import { boundShutdown, createApiApp, exitOnConfigError, resolveConfig } from './bootstrap';

async function main(): Promise<void> {
  const config = await resolveConfig().catch(exitOnConfigError);
  const app = await createApiApp(config).catch(exitOnConfigError);
  boundShutdown(config, { warn: (m) => process.stderr.write(`${m}\n`) });
  await app.listen({ port: config.PORT, host: config.HOST });
  const where = await app.getUrl();
  process.stdout.write(`Countersign listening on ${where}${config.DEMO_MODE ? ' (demo mode)' : ''}\n`);
}

void main();
