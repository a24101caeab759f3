import { DynamicModule, Module } from '@nestjs/common';
import { OutboxDispatcher } from './outbox-dispatcher.service';
import { Outbox } from './outbox.service';

/** The transactional outbox: every process writes events; worker processes also dispatch them. */
@Module({})
export class OutboxModule {
  static register(options: { workers: boolean }): DynamicModule {
    return {
      module: OutboxModule,
      global: true,
      providers: [Outbox, ...(options.workers ? [OutboxDispatcher] : [])],
      exports: [Outbox],
    };
  }
}
