/** Ops: health (and, with the audit issue, metrics and the queue dashboard). */
import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';

@Module({ controllers: [HealthController] })
export class OpsModule {}
