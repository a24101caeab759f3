import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

const DEMO_TENANT = 'acme';
const DEMO_PEOPLE = ['alice', 'bob', 'carol', 'dave'];
const DEMO_GROUPS: Record<string, string[]> = { finance: ['bob', 'carol'], security: ['dave'] };

/**
 * Demo mode only: tenant "acme" gets a few approvers and the groups the starter policies name,
 * so that the README's tour works out of the box. Existing entries are left alone.
 */
@Injectable()
export class DemoDirectorySeeder implements OnApplicationBootstrap {
  private readonly logger = new Logger(DemoDirectorySeeder.name);

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.DEMO_MODE) return;
    await this.dataSource.transaction(async (m) => {
      await m.query(
        `INSERT INTO approvers (tenant_id, id, display_name, email)
         SELECT $1, id, initcap(id), id || '@acme.example' FROM unnest($2::text[]) AS id ON CONFLICT DO NOTHING`,
        [DEMO_TENANT, DEMO_PEOPLE],
      );
      for (const [name, members] of Object.entries(DEMO_GROUPS)) {
        await m.query(`INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ($1, $2, initcap($2)) ON CONFLICT DO NOTHING`, [DEMO_TENANT, name]);
        await m.query(`INSERT INTO approver_group_members (tenant_id, group_name, approver_id) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`, [
          DEMO_TENANT,
          name,
          members,
        ]);
      }
    });
    this.logger.log(`demo mode: approvers ${DEMO_PEOPLE.join(', ')} and groups ${Object.keys(DEMO_GROUPS).join(', ')} in tenant ${DEMO_TENANT}`);
  }
}
