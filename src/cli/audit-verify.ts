import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { AuditCheckpoints } from '../audit/audit-checkpoints.service';
import { AuditVerifier } from '../audit/audit-verifier.service';
import { exitOnConfigError, resolveConfig } from '../bootstrap';
import { DatabaseModule } from '../common/database/database.module';
import { SigningKeys } from '../common/keys/signing-keys.service';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { cliFlags } from './cli-args';

/**
 * npm run audit:verify -- [--tenant <id>] [--checkpoints <file.jsonl>]
 * Walks each tenant's audit hash chain (or one tenant's) from its first event, against the signed
 * checkpoints in the database and, with --checkpoints, the copies kept elsewhere (the lines of
 * AUDIT_CHECKPOINT_FILE). Prints one JSON report per tenant; exits 1 if any chain is broken,
 * naming the first broken link exactly (which event, what mismatched).
 */
async function main(): Promise<void> {
  const flags = cliFlags('npm run audit:verify -- [--tenant <id>] [--checkpoints <file.jsonl>]', {
    tenant: { type: 'string' },
    checkpoints: { type: 'string' },
  });
  const config: AppConfig = await resolveConfig({ DEMO_MODE: 'true', ...process.env, DATABASE_MIGRATE_ON_START: 'false' }).catch(exitOnConfigError);
  const external = flags.checkpoints
    ? readFileSync(String(flags.checkpoints), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { tenant: string; jws: string })
    : [];

  @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule], providers: [SigningKeys, AuditCheckpoints, AuditVerifier] })
  class AuditCliModule {}

  const app = await NestFactory.createApplicationContext(AuditCliModule, { logger: ['error'] });
  try {
    const tenants: string[] = flags.tenant
      ? [String(flags.tenant)]
      : (await app.get(DataSource).query(`SELECT DISTINCT tenant_id FROM audit_events ORDER BY tenant_id`)).map((r: { tenant_id: string }) => r.tenant_id);
    let broken = 0;
    for (const tenant of tenants) {
      const report = await app.get(AuditVerifier).verify(
        tenant,
        external.filter((c) => c.tenant === tenant).map((c) => c.jws),
      );
      if (!report.ok) broken++;
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
    process.exitCode = broken ? 1 : 0;
  } finally {
    await app.close();
  }
}

void main();
