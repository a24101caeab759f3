import { Client } from 'pg';

/** The people and groups most tests name; tests of the directory itself use tenants of their own. */
export const SEEDED_TENANTS = ['acme', 'globex', 'a'];
export const SEEDED_PEOPLE = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'gina',
  'wide-alice',
  'r-alice',
  'h-alice',
  'h-mallory',
  ...Array.from({ length: 100 }, (_, i) => `u${i}`),
  ...Array.from({ length: 50 }, (_, i) => `a${i + 1}`),
];
export const SEEDED_GROUPS: Record<string, string[]> = { finance: ['bob', 'carol', 'dave'], security: ['erin', 'dave'] };

/** Writes the directory straight into a test database (as an admin would through the API). */
export async function seedDirectory(
  databaseUrl: string,
  tenants = SEEDED_TENANTS,
  people = SEEDED_PEOPLE,
  groups = SEEDED_GROUPS,
  email: (tenant: string, id: string) => string | null = (tenant, id) => `${id}@${tenant}.example`,
): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const tenant of tenants) {
      await client.query(
        `INSERT INTO approvers (tenant_id, id, display_name, email) SELECT $1, id, initcap(id), e FROM unnest($2::text[], $3::text[]) AS t(id, e)
         ON CONFLICT DO NOTHING`,
        [tenant, people, people.map((p) => email(tenant, p))],
      );
      for (const [name, members] of Object.entries(groups)) {
        await client.query(`INSERT INTO approver_groups (tenant_id, name, display_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [tenant, name, name]);
        await client.query(`INSERT INTO approver_group_members (tenant_id, group_name, approver_id) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING`, [
          tenant,
          name,
          members,
        ]);
      }
    }
  } finally {
    await client.end();
  }
}

/** Puts these people into a tenant's directory (e.g. a test's generated delegating humans). */
export const addApprovers = (databaseUrl: string, tenant: string, ids: string[]) => seedDirectory(databaseUrl, [tenant], ids, {});
