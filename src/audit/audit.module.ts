import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEvent } from './audit-event.entity';
import { AuditLog } from './audit-log.service';

@Global()
@Module({ imports: [TypeOrmModule.forFeature([AuditEvent])], providers: [AuditLog], exports: [AuditLog] })
export class AuditModule {}
