/**
 * The audit trail: one append-only event stream per tenant, sealed into a hash chain with signed
 * checkpoints, written by group commit where a call waits for its event; query, export and
 * verification. It knows nothing of the parts above it.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditBatcher } from './audit-batcher.service';
import { AuditCheckpoints } from './audit-checkpoints.service';
import { AuditEvent } from './audit-event.entity';
import { AuditEvents } from './audit-events.repository';
import { AuditLog } from './audit-log.service';
import { AuditMaintenance } from './audit-maintenance.service';
import { AuditSealer } from './audit-sealer.service';
import { AuditVerifier } from './audit-verifier.service';
import { AuditController } from './audit.controller';

@Module({})
export class AuditModule {
  static register(options: { http: boolean }): DynamicModule {
    return {
      module: AuditModule,
      global: true,
      imports: [TypeOrmModule.forFeature([AuditEvent])],
      controllers: options.http ? [AuditController] : [],
      providers: [AuditLog, AuditBatcher, AuditSealer, AuditCheckpoints, AuditVerifier, AuditMaintenance, AuditEvents],
      exports: [AuditLog, AuditBatcher],
    };
  }
}
