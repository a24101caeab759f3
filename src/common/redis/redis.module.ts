import { Global, Module } from '@nestjs/common';
import { RedisBus } from './redis-bus.service';
import { RedisConnections } from './redis-connections';

export { RedisConnections } from './redis-connections';

@Global()
@Module({ providers: [RedisConnections, RedisBus], exports: [RedisConnections, RedisBus] })
export class RedisModule {}
