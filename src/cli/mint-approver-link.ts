import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApprovalRequest } from '../approvals/approval-request.entity';
import { ApproverLinks } from '../approvals/approver-links.service';
import { exitOnConfigError, resolveConfig } from '../bootstrap';
import { DatabaseModule } from '../common/database/database.module';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { ProtocolError } from '../common/errors/protocol-errors';
import { ConfigModule } from '../config/config.module';
import { AppConfig } from '../config/app-config';
import { cliFlags } from './cli-args';

/**
 * npm run link -- --tenant acme --request <auth_req_id> --approver bob [--group finance]
 * Mints an approver link: its url opens the approval page, and the token is also the Bearer
 * credential for POST /v1/approvals/{id}/decisions. Approvers get theirs by email and push; this
 * is for scripts and recovery.
 */
async function main(): Promise<void> {
  const flags = cliFlags('npm run link -- --tenant <id> --request <auth_req_id> --approver <user id> [--group <name>]', {
    tenant: { type: 'string' },
    request: { type: 'string' },
    approver: { type: 'string' },
    group: { type: 'string' },
  });
  if (!flags.tenant || !flags.request || !flags.approver) {
    process.stderr.write('--tenant, --request and --approver are required\n');
    process.exit(2);
  }
  const config: AppConfig = await resolveConfig({ DEMO_MODE: 'true', ...process.env, DATABASE_MIGRATE_ON_START: 'false' }).catch(exitOnConfigError);

  @Module({
    imports: [ConfigModule.forRoot(config), DatabaseModule, TypeOrmModule.forFeature([ApprovalRequest])],
    providers: [SigningKeys, ApproverLinks],
  })
  class LinkCliModule {}

  const app = await NestFactory.createApplicationContext(LinkCliModule, { logger: ['error'] });
  try {
    const link = await app.get(ApproverLinks).mint({
      tenantId: String(flags.tenant),
      approvalId: String(flags.request),
      approverId: String(flags.approver),
      viaGroup: flags.group ? String(flags.group) : undefined,
    });
    process.stdout.write(`${JSON.stringify(link, null, 2)}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof ProtocolError ? e.description : (e as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await app.close();
  }
}

void main();
