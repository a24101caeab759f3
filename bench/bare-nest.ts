/**
 * The framework floor for a POST, as the side-by-side anchors measure it (shared/anchors/nest):
 * a bare NestJS + Fastify app whose one route parses a ~1 KB JSON body and answers a small JSON.
 * npm run bench starts it as a child process (`node dist/bench/bare-nest.js`, PORT, HOST) and
 * loads it with the same load generator as the service, so its figure is the POST baseline.
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

@Controller()
class EchoController {
  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: Record<string, unknown>) {
    // Touch the parsed body so the parse cannot be skipped.
    return { ok: true, id: body.id ?? null, fields: Object.keys(body).length };
  }
}

@Module({ controllers: [EchoController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
  process.stdout.write('bare nest listening\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
