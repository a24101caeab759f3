import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEvent } from './audit-event.entity';
import { AuditBatcher } from './audit-batcher.service';
import { AuditLog } from './audit-log.service';

@Global()
@Module({ imports: [TypeOrmModule.forFeature([AuditEvent])], providers: [AuditLog, AuditBatcher], exports: [AuditLog, AuditBatcher] })
export class AuditModule {}
